/* The 5x7 bitmap font of the viz sheet's captions (printable ASCII; other bytes draw as '?'). */
#ifndef DM_DATASET_FONT_H
#define DM_DATASET_FONT_H

#include <stdint.h>

#define DM_FONT_W       5
#define DM_FONT_H       7
#define DM_FONT_ADVANCE 6 /* glyph + one column of space */

/* The 7 rows of c's glyph, bit 4 = leftmost pixel. */
const uint8_t *dm_font5x7(char c);

#endif
