/* list: the intrusive doubly linked lists the modules keep their items in (items have
 * prev and next members); a tail pointer where order of insertion matters. */
#ifndef LD_LIST_H
#define LD_LIST_H

#include <stddef.h>

/* Puts item first in the list at head. */
#define LD_LIST_PUSH(head, item)                                                                   \
        do {                                                                                       \
                (item)->prev = NULL;                                                               \
                (item)->next = (head);                                                             \
                if (head)                                                                          \
                        (head)->prev = (item);                                                     \
                (head) = (item);                                                                   \
        } while (0)

/* Puts item last in the list at head..tail. */
#define LD_LIST_APPEND(head, tail, item)                                                           \
        do {                                                                                       \
                (item)->next = NULL;                                                               \
                (item)->prev = (tail);                                                             \
                if (tail)                                                                          \
                        (tail)->next = (item);                                                     \
                else                                                                               \
                        (head) = (item);                                                           \
                (tail) = (item);                                                                   \
        } while (0)

/* Takes item out of the list at head..tail. */
#define LD_LIST_REMOVE_TAIL(head, tail, item)                                                      \
        do {                                                                                       \
                if ((item)->prev)                                                                  \
                        (item)->prev->next = (item)->next;                                         \
                else                                                                               \
                        (head) = (item)->next;                                                     \
                if ((item)->next)                                                                  \
                        (item)->next->prev = (item)->prev;                                         \
                else                                                                               \
                        (tail) = (item)->prev;                                                     \
        } while (0)

/* Takes item out of the list at head (no tail kept). */
#define LD_LIST_REMOVE(head, item)                                                                 \
        do {                                                                                       \
                __typeof__(item) ld_list_tail_ = NULL;                                             \
                LD_LIST_REMOVE_TAIL(head, ld_list_tail_, item);                                    \
                (void)ld_list_tail_;                                                               \
        } while (0)

#endif
