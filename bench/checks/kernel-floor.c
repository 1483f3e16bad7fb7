// The kernel floor of one keepalived-style HTTP check on this host: a minimal C epoll client
// (connect, send, read to EOF, close) at a fixed rate, against bench/checks/http-target.js.
// Build: gcc -O2 -o /tmp/kernel-floor bench/checks/kernel-floor.c
// Run:   node dist/bench/checks/http-target.js 20000 100 & /tmp/kernel-floor RATE SECONDS [LINGER0]
// Prints CPU % of one core and µs per check (user vs kernel): what no checker in any language
// can go below on this kernel.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static const char REQ[]="GET / HTTP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n";
int main(int argc,char**argv){
  int rate=atoi(argv[1]); double dur=atof(argv[2]); int linger0=argc>3?atoi(argv[3]):0;
  int ep=epoll_create1(0); struct epoll_event evs[256];
  double t0=now(), next=t0; long started=0, ok=0, fail=0; char buf[4096];
  while(now()-t0<dur){
    double t=now();
    while(next<=t){ // start due probes
      int fd=socket(AF_INET,SOCK_STREAM|SOCK_NONBLOCK,0);
      struct sockaddr_in a={.sin_family=AF_INET,.sin_port=htons(20000+started%100)};
      a.sin_addr.s_addr=htonl(0x7f000001+ (started/100)%100);
      connect(fd,(void*)&a,sizeof a);
      struct epoll_event e={.events=EPOLLOUT,.data.u64=((uint64_t)fd<<1)};
      epoll_ctl(ep,EPOLL_CTL_ADD,fd,&e); started++; next+=1.0/rate;
    }
    int n=epoll_wait(ep,evs,256,1);
    for(int i=0;i<n;i++){
      int fd=evs[i].data.u64>>1; int sent=evs[i].data.u64&1;
      if(!sent){ int err=0; socklen_t l=sizeof err; getsockopt(fd,SOL_SOCKET,SO_ERROR,&err,&l);
        if(err){fail++;close(fd);continue;}
        send(fd,REQ,sizeof REQ-1,MSG_NOSIGNAL);
        struct epoll_event e={.events=EPOLLIN,.data.u64=((uint64_t)fd<<1)|1}; epoll_ctl(ep,EPOLL_CTL_MOD,fd,&e);
      } else { ssize_t r; int eof=0;
        while((r=recv(fd,buf,sizeof buf,0))>0){}
        if(r==0) eof=1; else if(errno!=EAGAIN){eof=1;}
        if(eof){ if(linger0){struct linger lg={1,0};setsockopt(fd,SOL_SOCKET,SO_LINGER,&lg,sizeof lg);} close(fd); ok++; }
      }
    }
  }
  struct rusage ru; getrusage(RUSAGE_SELF,&ru);
  double cpu=ru.ru_utime.tv_sec+ru.ru_utime.tv_usec/1e6+ru.ru_stime.tv_sec+ru.ru_stime.tv_usec/1e6;
  double u=ru.ru_utime.tv_sec+ru.ru_utime.tv_usec/1e6;
  printf("rate %d linger0 %d: ok %ld fail %ld in %.1fs, cpu %.1f%% of a core (user %.1f%%), %.1f us/check\n",rate,linger0,ok,fail,dur,100*cpu/dur,100*u/dur,1e6*cpu/(ok?ok:1));
}
