/* diffumask — Stable Diffusion in C that writes semantic-segmentation datasets
 * (DiffuMask, Wu et al., ICCV 2023). The one public header: dm_ prefix, opaque handles,
 * every fallible call returns dm_status and fills a dm_error. */
#ifndef DIFFUMASK_H
#define DIFFUMASK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DM_VERSION "0.1.0"

typedef enum {
    DM_OK = 0,
    DM_ERR = 1,   /* any failure: bad file, bad value, I/O */
    DM_EUSAGE = 2 /* the caller asked for something that makes no sense */
} dm_status;

/* One line naming the file / tensor / argument and what is wrong with it. */
typedef struct {
    char msg[1024];
} dm_error;

#ifdef __cplusplus
}
#endif
#endif
