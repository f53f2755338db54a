/**
 * JSON schemas (a subset) of CloudNativePG's `Cluster` and `Pooler` (postgresql.cnpg.io/v1),
 * written from the operator's API reference: no models package exists for them. They cover
 * every field deploy/k8s uses and refuse unknown fields at the levels we write, so a typo or a
 * field of another operator fails the test (deploy/k8s.spec.ts) instead of being ignored by
 * the API server's pruning. Extend them with the reference when a new field is used.
 */
const quantity = { anyOf: [{ type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$' }, { type: 'integer' }] };
const resources = {
  type: 'object',
  additionalProperties: false,
  properties: {
    requests: { type: 'object', additionalProperties: quantity },
    limits: { type: 'object', additionalProperties: quantity },
  },
};
const dnsName = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 };
const metadata = {
  type: 'object',
  required: ['name'],
  properties: { name: dnsName, namespace: dnsName, labels: { type: 'object', additionalProperties: { type: 'string' } }, annotations: { type: 'object', additionalProperties: { type: 'string' } } },
};
const storage = {
  type: 'object',
  additionalProperties: false,
  properties: { size: quantity, storageClass: { type: 'string' }, resizeInUseVolumes: { type: 'boolean' }, pvcTemplate: { type: 'object' } },
};
const localObjectReference = { type: 'object', additionalProperties: false, required: ['name'], properties: { name: dnsName } };

/** The parameters CloudNativePG lets a Pooler set in pgbouncer.ini (its allow-list, "PgBouncer configuration options"). */
const PGBOUNCER_PARAMETERS = [
  'application_name_add_host', 'autodb_idle_timeout', 'cancel_wait_timeout', 'client_idle_timeout', 'client_login_timeout',
  'default_pool_size', 'disable_pqexec', 'dns_max_ttl', 'dns_nxdomain_ttl', 'idle_transaction_timeout',
  'ignore_startup_parameters', 'listen_backlog', 'log_connections', 'log_disconnections', 'log_pooler_errors', 'log_stats',
  'max_client_conn', 'max_db_connections', 'max_packet_size', 'max_prepared_statements', 'max_user_connections',
  'min_pool_size', 'pkt_buf', 'query_timeout', 'query_wait_timeout', 'reserve_pool_size', 'reserve_pool_timeout',
  'sbuf_loopcnt', 'server_check_delay', 'server_check_query', 'server_connect_timeout', 'server_fast_close',
  'server_idle_timeout', 'server_lifetime', 'server_login_retry', 'server_reset_query', 'server_reset_query_always',
  'server_round_robin', 'server_tls_ciphers', 'server_tls_protocols', 'stats_period', 'suspend_timeout',
  'tcp_defer_accept', 'tcp_keepalive', 'tcp_keepcnt', 'tcp_keepidle', 'tcp_keepintvl', 'tcp_socket_buffer',
  'tcp_user_timeout', 'track_extra_parameters', 'verbose',
];

export const CNPG_CLUSTER_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'postgresql.cnpg.io/v1' },
    kind: { const: 'Cluster' },
    metadata,
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['instances', 'storage'],
      properties: {
        description: { type: 'string' },
        instances: { type: 'integer', minimum: 1 },
        imageName: { type: 'string', minLength: 1 },
        imagePullPolicy: { enum: ['Always', 'Never', 'IfNotPresent'] },
        primaryUpdateStrategy: { enum: ['unsupervised', 'supervised'] },
        primaryUpdateMethod: { enum: ['switchover', 'restart'] },
        minSyncReplicas: { type: 'integer', minimum: 0 },
        maxSyncReplicas: { type: 'integer', minimum: 0 },
        enableSuperuserAccess: { type: 'boolean' },
        superuserSecret: localObjectReference,
        startDelay: { type: 'integer' },
        stopDelay: { type: 'integer' },
        switchoverDelay: { type: 'integer' },
        failoverDelay: { type: 'integer' },
        postgresql: {
          type: 'object',
          additionalProperties: false,
          properties: {
            parameters: { type: 'object', additionalProperties: { type: 'string' } },
            pg_hba: { type: 'array', items: { type: 'string' } },
            pg_ident: { type: 'array', items: { type: 'string' } },
            shared_preload_libraries: { type: 'array', items: { type: 'string' } },
            synchronous: {
              type: 'object',
              additionalProperties: false,
              required: ['method', 'number'],
              properties: {
                method: { enum: ['any', 'first'] },
                number: { type: 'integer', minimum: 1 },
                maxStandbyNamesFromCluster: { type: 'integer', minimum: 0 },
                standbyNamesPre: { type: 'array', items: { type: 'string' } },
                standbyNamesPost: { type: 'array', items: { type: 'string' } },
                dataDurability: { enum: ['required', 'preferred'] },
              },
            },
          },
        },
        bootstrap: {
          type: 'object',
          additionalProperties: false,
          properties: {
            initdb: {
              type: 'object',
              additionalProperties: false,
              properties: {
                database: { type: 'string', minLength: 1 },
                owner: { type: 'string', minLength: 1 },
                secret: localObjectReference,
                encoding: { type: 'string' },
                localeCollate: { type: 'string' },
                localeCType: { type: 'string' },
                dataChecksums: { type: 'boolean' },
                postInitApplicationSQL: { type: 'array', items: { type: 'string' } },
              },
            },
            recovery: { type: 'object' },
            pg_basebackup: { type: 'object' },
          },
        },
        storage,
        walStorage: storage,
        resources,
        affinity: {
          type: 'object',
          additionalProperties: false,
          properties: {
            enablePodAntiAffinity: { type: 'boolean' },
            podAntiAffinityType: { enum: ['preferred', 'required'] },
            topologyKey: { type: 'string' },
            nodeSelector: { type: 'object', additionalProperties: { type: 'string' } },
            tolerations: { type: 'array' },
            nodeAffinity: { type: 'object' },
            additionalPodAntiAffinity: { type: 'object' },
            additionalPodAffinity: { type: 'object' },
          },
        },
        monitoring: { type: 'object', properties: { enablePodMonitor: { type: 'boolean' } } },
        backup: { type: 'object' },
        managed: { type: 'object' },
        plugins: { type: 'array' },
        inheritedMetadata: { type: 'object' },
      },
    },
  },
} as const;

export const CNPG_POOLER_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'postgresql.cnpg.io/v1' },
    kind: { const: 'Pooler' },
    metadata,
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['cluster', 'pgbouncer'],
      properties: {
        cluster: localObjectReference,
        type: { enum: ['rw', 'ro', 'r'] },
        instances: { type: 'integer', minimum: 0 },
        pgbouncer: {
          type: 'object',
          additionalProperties: false,
          properties: {
            poolMode: { enum: ['session', 'transaction'] },
            parameters: { type: 'object', propertyNames: { enum: PGBOUNCER_PARAMETERS }, additionalProperties: { type: 'string' } },
            pg_hba: { type: 'array', items: { type: 'string' } },
            paused: { type: 'boolean' },
            authQuery: { type: 'string' },
            authQuerySecret: localObjectReference,
          },
        },
        template: { type: 'object' },
        serviceTemplate: { type: 'object' },
        deploymentStrategy: { type: 'object' },
        monitoring: { type: 'object' },
      },
    },
  },
} as const;
