/* 2^f for |f| <= 1/2 by Cephes' exp2f polynomial (~1 ulp), highest power first: the one table
 * every vexp2 evaluates by Horner (attention.c's, avx512_math.h's and elementwise.c's AVX2 one),
 * each then scaling by 2^n for x = n + f. */
#ifndef DM_OPS_EXP2_POLY_H
#define DM_OPS_EXP2_POLY_H

enum { DM_EXP2_DEGREE = 6 };
static const float dm_exp2_poly[DM_EXP2_DEGREE + 1] = {1.535336188319500e-4f,
                                                       1.339887440266574e-3f,
                                                       9.618437357674640e-3f,
                                                       5.550332471162809e-2f,
                                                       2.402264791363012e-1f,
                                                       6.931472028550421e-1f,
                                                       1.0f};

#endif
