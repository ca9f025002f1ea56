// C library functions that the Swift Glibc module does not export.
#include <malloc.h>
