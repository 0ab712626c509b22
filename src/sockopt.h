/* sockopt: socket options shared by modules that would otherwise not know each other. */
#ifndef LD_SOCKOPT_H
#define LD_SOCKOPT_H

/* Raises a UDP socket's receive buffer so bursts are not dropped. */
void ld_sockopt_rcvbuf(int fd);

#endif
