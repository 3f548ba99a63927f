/**
 * Deterministic event counters of the whole machine (in the spirit of /proc/vmstat). Same operations,
 * same seed: same numbers on any machine.
 */
export class VmEvents {
  /** handle_mm_fault calls. */
  pgfault = 0;
  /** Faults that had to read a regular file page that was not in the page cache. */
  pgmajfault = 0;
  /** do_anonymous_page: new anonymous page (write) / shared zero page mapped (read). */
  anonFaults = 0;
  zeroPageFaults = 0;
  /** do_read_fault, do_cow_fault, do_shared_fault. */
  readFaults = 0;
  cowFaults = 0;
  sharedFaults = 0;
  /** PTEs mapped by fault-around (filemap_map_pages), not counting the faulting one. */
  faultAroundPtes = 0;
  /** do_wp_page outcomes. */
  wpReuse = 0;
  wpCopy = 0;
  wpShared = 0;
  /** FAULT_FLAG_UNSHARE outcomes. */
  unshareReuse = 0;
  unshareCopy = 0;
  hugetlbFaults = 0;
  /** fork: present PTEs (and huge leaves) copied by copy_page_range; pinned pages copied eagerly. */
  forkPtesCopied = 0;
  forkPagesCopied = 0;
  /** Present leaf entries removed by zap (munmap, exit). */
  ptesZapped = 0;
  /** Shared tables unlinked from one mm (pt_share_count dropped). */
  tablesUnshared = 0;
  /** PTE tables MADV_DONTNEED freed because it emptied them (PT_RECLAIM, src/mm/pt_reclaim.ts). */
  pteTablesReclaimed = 0;
  /** TLB flushes for page-table changes (src/mm/tlbflush.ts): ranged, full (> 33 pages), global. */
  tlbFlushes = 0;
  tlbFlushRanged = 0;
  tlbFlushFull = 0;
  /** Global TLB flushes (flush_tlb_all: every CPU, every PCID), as mshare issues on host-table changes. */
  flushTlbAll = 0;
  /** Entries invalidated one by one by ranged flushes, and IPIs sent to CPUs other than the changer's. */
  tlbFlushEntries = 0;
  tlbIpis = 0;
  /** GUP-fast synchronisations after hugetlb PMD unsharing (tlb_remove_table_sync_one); their IPIs are in tlbIpis. */
  gupFastSyncs = 0;
  /** Flushes broadcast with INVLPGB (flush_tlb_all, or an mm with a global ASID): no IPIs. */
  invlpgbFlushes = 0;
  /** file-pt: cached table pages freed by the shrinker step because no mapping used them. */
  ptCacheShrunk = 0;
  /** Reclaim (src/mm/vmscan.ts): VMAs the rmap walk visited, entries it cleared, pages swapped out and in. */
  rmapVmasVisited = 0;
  rmapEntriesCleared = 0;
  pswpout = 0;
  pswpin = 0;
  /** PTEs whose protection changed in change_protection. */
  ptesProtChanged = 0;
  /** Reclaim: distinct leaf tables the rmap walk cleared entries in (one per mapping, or per shared table). */
  rmapTablesVisited = 0;
  /** userfaultfd write-protect: present entries protected / resolved, PTE markers installed to keep
   * the protection of an empty or zapped entry, write faults delivered to the monitor. */
  uffdWpProtected = 0;
  uffdWpResolved = 0;
  uffdWpMarkers = 0;
  uffdWpFaults = 0;
  /** Faults that found a PTE marker in the entry (handle_pte_marker). */
  pteMarkerFaults = 0;
  /** Pagemap variant 'pte-marker': PTE_MARKER_PAGEOUT markers installed at swap-out. */
  pageoutMarkers = 0;
  /** /proc/pid/pagemap entries produced, and the page-cache (XArray) lookups the 'pagecache-lookup' variant added. */
  pagemapEntries = 0;
  pagemapLookups = 0;
  /** KSM (src/mm/ksm.ts): pages scanned, stable pages created, mappings merged into one (frames saved), COW breaks of KSM pages. */
  ksmPagesScanned = 0;
  ksmPagesShared = 0;
  ksmPagesMerged = 0;
  ksmCowBreaks = 0;

  snapshot(): Record<string, number> {
    return Object.fromEntries(Object.entries(this)) as Record<string, number>;
  }
}
