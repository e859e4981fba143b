// SPDX-License-Identifier: MIT
/* lockrule: the per-thread set of module locks held (see lockrule.h). */
#include "lockrule.h"

#ifndef NDEBUG
_Thread_local unsigned lockrule_held;
#endif
