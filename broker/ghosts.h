/* Ghosts: what a shared-subscription member leaves behind for one grace period after its
 * session ended, so that a message already routed to it goes to another member instead of
 * being lost.
 *
 * The race: a publisher's worker matches the index while the member is still in its group
 * and posts the delivery to the member's worker; meanwhile that worker ends the session.
 * The delivery then finds no session. The ghost keeps the ended session's shared filters
 * until a grace period after they left the index: every worker that could still match the
 * old member has passed a quiescent state by then, so every such delivery is already in the
 * inbox. Worker thread only, except the grace-period callback (see ghosts.c). */
#ifndef SMQ_BROKER_GHOSTS_H
#define SMQ_BROKER_GHOSTS_H

#include <stdbool.h>

#include "broker/broker.h"

struct smq_worker;

struct smq_ghost;

/* Records s's shared subscriptions in a new ghost of w, before they leave the index;
 * returns it, or NULL for a session without shared subscriptions or at shutdown. */
struct smq_ghost *smq_ghost_new(struct smq_worker *w, const struct smq_session *s);

/* Starts g's grace period, once its subscriptions left the index. NULL is allowed. */
void smq_ghost_arm(struct smq_ghost *g);

/* A delivery of msg for target (a shared group's member) found no session: hands it to
 * another member of the group the ghost of that session was in. Returns true when one took
 * it. */
bool smq_ghost_redirect(struct smq_worker *w, struct smq_msg *msg,
                        const struct smq_sub_target *target);

/* Around one drain of the inbox: _collect marks the ghosts whose grace period is over
 * before the drain starts; _release frees them after it, when every delivery that could
 * have been meant for them has been handled. */
void smq_ghosts_collect(struct smq_worker *w);
void smq_ghosts_release(struct smq_worker *w);

/* Frees every ghost once the worker's thread has ended (main thread, at join). */
void smq_ghosts_dispose(struct smq_worker *w);

#endif
