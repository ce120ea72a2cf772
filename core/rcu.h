/* The one place that chooses the liburcu flavour: QSBR (quiescent-state based).
 *
 * Readers pay nothing on the read side; each worker reports a quiescent state once per loop
 * iteration and goes offline around its poll so an idle worker never holds up a grace period
 * (DESIGN.md, "QSBR and an idle loop"). Every file that uses RCU includes this header, never
 * <urcu*.h> directly, so the flavour of call_rcu, rcu_read_lock and cds_lfht agree. */
#ifndef SMQ_CORE_RCU_H
#define SMQ_CORE_RCU_H

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#endif
