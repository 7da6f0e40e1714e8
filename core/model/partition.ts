/** Aerospike's fixed partition count. */
export const N_PARTITIONS = 4096;
export type PartitionId = number;

/** Partition id: the low 12 bits of the digest's first two bytes read little-endian. */
export function partitionOf(digest: Uint8Array): PartitionId {
  return ((digest[0] as number) | ((digest[1] as number) << 8)) & (N_PARTITIONS - 1);
}
