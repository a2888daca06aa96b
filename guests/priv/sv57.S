/* Sv57 paging in S-mode and U-mode: see vm_tests.h. */
#define SATP_MODE 10
#define LEVELS 5
#include "vm_tests.h"
