/** The article's claims (../shared/CLAIMS.md), by their stable ids. Scenarios name them; reports key on them. */
export const CLAIMS: Readonly<Record<string, string>> = {
  'kmalloc-phys-contiguous': 'kmalloc memory is physically contiguous, in the direct map at a fixed offset from its physical address.',
  'kmalloc-128k-limit': 'kmalloc allocations are limited to 128 KB.',
  'gfp-atomic-context':
    'GFP_ATOMIC never sleeps; it is the flag for interrupt handlers, softirqs, tasklets and non-sleeping process context.',
  'gfp-kernel-may-sleep': 'GFP_KERNEL may sleep, so it is for process context only.',
  'gfp-dma': 'GFP_DMA gives memory usable by DMA controllers.',
  'kzalloc-zeroes': 'kzalloc is kmalloc with __GFP_ZERO: the memory comes back zeroed.',
  'vmalloc-virt-contiguous': 'vmalloc gives a virtually contiguous range.',
  'vmalloc-not-phys-contiguous': 'vmalloc memory is not necessarily physically contiguous.',
  'vmalloc-no-size-limit': 'vmalloc size is not limited.',
  'vmalloc-may-sleep': 'vmalloc may sleep and must not be called from interrupt context.',
  'kmalloc-can-be-atomic': 'kmalloc can allocate atomically (GFP_ATOMIC); vmalloc may block.',
  'kmalloc-cheaper': 'kmalloc costs less than vmalloc.',
  'modules-in-vmalloc': 'Loaded modules live in vmalloc-allocated memory.',
  'leak-crashes-kernel': 'A kernel memory leak crashes the system.',
  'zones-32bit-layout': 'ZONE_DMA < 16 MB, ZONE_NORMAL 16-896 MB, ZONE_HIGHMEM above 896 MB.',
};
