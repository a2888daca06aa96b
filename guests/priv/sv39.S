/* Sv39 paging in S-mode and U-mode: see vm_tests.h. */
#define SATP_MODE 8
#define LEVELS 3
#include "vm_tests.h"
