/* Sv48 paging in S-mode and U-mode: see vm_tests.h. */
#define SATP_MODE 9
#define LEVELS 4
#include "vm_tests.h"
