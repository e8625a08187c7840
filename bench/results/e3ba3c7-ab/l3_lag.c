#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <stdatomic.h>
#include <nmmintrin.h>
#define SZ (360UL<<20)
#define BLK (64UL<<10)
#define NB (SZ/BLK)
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
static uint8_t *A; static volatile uint64_t sink;
static _Atomic long done_a; static long LAG;
static uint64_t crcblk(uint8_t*p){ uint64_t c0=0,c1=0,c2=0; size_t n=BLK/3/8*8; uint64_t*a=(uint64_t*)p,*b=(uint64_t*)(p+n),*c=(uint64_t*)(p+2*n);
    for(size_t i=0;i<n/8;i++){c0=_mm_crc32_u64(c0,a[i]);c1=_mm_crc32_u64(c1,b[i]);c2=_mm_crc32_u64(c2,c[i]);} return c0^c1^c2; }
static uint64_t sumblk(uint8_t*p){ uint64_t s=0; uint64_t*a=(uint64_t*)p; for(size_t i=0;i<BLK/8;i+=9) s+=a[i]; return s;}
static double tb;
static void* thA(void*x){ for(long k=0;k<NB;k++){ sink+=crcblk(A+k*BLK); atomic_store_explicit(&done_a,k+1,memory_order_release);} return 0;}
static void* thB(void*x){ double acc=0; uint64_t s=0; for(long k=0;k<NB;k++){ if(LAG>=0) while(atomic_load_explicit(&done_a,memory_order_acquire) < (k+1+LAG < NB ? k+1+LAG : NB)) ; double t0=now(); s+=sumblk(A+k*BLK); acc+=now()-t0;} tb=acc; sink+=s; return 0;}
int main(){ A=mmap(0,SZ,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0); madvise(A,SZ,MADV_HUGEPAGE); memset(A,1,SZ);
 for(int r=0;r<3;r++){
  // B alone (no A), streaming from DRAM
  LAG=-1; double t0=now(); pthread_t b; pthread_create(&b,0,thB,0); pthread_join(b,0); printf("B alone: %.1f ms in reads\n", tb*1e3);
  // B right behind A (reads each block just after A CRC'd it)
  long lags[]={0,4,32,256}; for(int li=0;li<4;li++){ LAG=lags[li]; if(LAG>=NB) continue; atomic_store(&done_a,0); pthread_t a; pthread_create(&a,0,thA,0); pthread_create(&b,0,thB,0); pthread_join(a,0); pthread_join(b,0); printf("B reading %ld blocks behind A: %.1f ms in reads\n", LAG, tb*1e3);}
  // A alone
  atomic_store(&done_a,0); t0=now(); thA(0); printf("A alone: %.1f ms\n",(now()-t0)*1e3);
 }}
