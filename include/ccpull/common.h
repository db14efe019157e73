/* Macros every public header uses: C++ linkage (CCP_BEGIN_DECL) and the exported symbols' visibility. */
#ifndef INCLUDE_ccpull_common_h__
#define INCLUDE_ccpull_common_h__

#ifdef __cplusplus
# define CCP_BEGIN_DECL extern "C" {
# define CCP_END_DECL }
#else
# define CCP_BEGIN_DECL
# define CCP_END_DECL
#endif

#define CCP_EXTERN(type) extern __attribute__((visibility("default"))) type

#endif
