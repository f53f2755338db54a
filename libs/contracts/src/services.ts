/** The services of the system; each owns the PostgreSQL schema of the same name. */
export const SERVICE_NAMES = ['gateway', 'identity', 'media', 'generation', 'chat', 'billing', 'retention'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Services that keep personal data and so must confirm every purge with PurgeCompleted. */
export const DATA_OWNING_SERVICES = ['identity', 'media', 'generation', 'chat', 'billing', 'retention'] as const satisfies readonly ServiceName[];
