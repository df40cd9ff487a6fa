/**
 * Table types of the metadata DB, as Kysely sees them. Times are epoch milliseconds (BIGINT) in every
 * dialect so that comparisons and the DB clock work the same on SQLite, PostgreSQL and MySQL.
 * Booleans are 0/1 integers; JSON documents are text.
 */
import type { ColumnType, Generated, Selectable } from "kysely";

type Ms = number;

export interface DagTable {
  dag_id: string;
  fileloc: string;
  is_paused: number;
  /** 1 while the DAG is defined by a file the processor last parsed. */
  is_active: number;
  description: string | null;
  /** JSON array of strings. */
  tags: string;
  schedule: string | null;
  timezone: string;
  max_active_runs: number;
  /** JSON SerializedDag. */
  serialized: string;
  dag_hash: string;
  /** The DAG's current version (dag_version.id); null until a deploy stored one. */
  dag_version_id: ColumnType<number | null, number | null | undefined, number | null>;
  last_parsed_at: Ms;
  next_dagrun_logical_date: Ms | null;
  next_dagrun_create_after: Ms | null;
  next_dagrun_data_interval_start: ColumnType<Ms | null, Ms | null | undefined, Ms | null>;
  next_dagrun_data_interval_end: ColumnType<Ms | null, Ms | null | undefined, Ms | null>;
}

export interface ImportErrorTable {
  id: Generated<number>;
  filename: string;
  message: string;
  created_at: Ms;
}

export type DagRunState = "queued" | "running" | "success" | "failed";
export type RunType = "scheduled" | "manual" | "backfill" | "asset_triggered";

export interface DagRunTable {
  id: Generated<number>;
  dag_id: string;
  run_id: string;
  run_type: RunType;
  state: DagRunState;
  logical_date: Ms;
  data_interval_start: Ms;
  data_interval_end: Ms;
  run_after: Ms;
  /** JSON object. */
  conf: string;
  queued_at: Ms | null;
  start_date: Ms | null;
  end_date: Ms | null;
  created_at: Ms;
  /** The backfill that owns the run (run_type "backfill"), else null. */
  backfill_id: ColumnType<number | null, number | null | undefined, number | null>;
  /** A note set by hand (`aloft dags note`). */
  note: ColumnType<string | null, string | null | undefined, string | null>;
  /** The DAG version the run started with (dag_version.id); it runs on that version to the end. */
  dag_version_id: ColumnType<number | null, number | null | undefined, number | null>;
}

export type TaskState =
  | "scheduled"
  | "queued"
  | "running"
  | "success"
  | "failed"
  | "skipped"
  | "upstream_failed"
  | "up_for_retry"
  | "up_for_reschedule"
  | "restarting"
  | "removed";

export const TERMINAL_TASK_STATES: readonly TaskState[] = [
  "success",
  "failed",
  "skipped",
  "upstream_failed",
  "removed",
];

export interface TaskInstanceTable {
  id: Generated<number>;
  dag_run_id: number;
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: ColumnType<number, number | undefined, number>;
  /** null is Airflow's "none": not yet considered. */
  state: TaskState | null;
  /** Number of the current or last try; 0 before the first. */
  try_number: number;
  max_tries: number;
  operator: string;
  queue: string;
  pool: string;
  pool_slots: number;
  priority_weight: number;
  queued_at: Ms | null;
  start_date: Ms | null;
  end_date: Ms | null;
  duration_ms: number | null;
  /** When an up_for_retry task may be scheduled again. */
  next_try_at: Ms | null;
  hostname: string | null;
  pid: number | null;
  updated_at: Ms;
  /** A note set by hand (`aloft tasks note`). */
  note: ColumnType<string | null, string | null | undefined, string | null>;
  /** JSON of the rendered bash command and env (secrets masked); null until rendered. */
  rendered_fields: ColumnType<string | null, string | null | undefined, string | null>;
  /** The worker that claimed the current try (see WorkerTable); null before the first claim. */
  worker: ColumnType<string | null, string | null | undefined, string | null>;
}

/** The task instance a row belongs to, with its readable key, as tries, logs and XComs carry it. */
interface TaskInstanceRef {
  ti_id: number;
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
}

/** One row a try: the claim that makes each try run at most once, and the try history. */
export interface TaskTryTable extends TaskInstanceRef {
  try_number: number;
  state: TaskState;
  hostname: string;
  pid: number | null;
  start_date: Ms;
  end_date: Ms | null;
  duration_ms: number | null;
  /** The queue the try was sent to (null for tries recorded before queues were kept). */
  queue: ColumnType<string | null, string | null | undefined, string | null>;
  /** The worker that ran the try (null for tries recorded before workers were kept). */
  worker: ColumnType<string | null, string | null | undefined, string | null>;
}

/** A try's log, in chunks appended as the try runs; read in id order. */
export interface TaskLogTable extends TaskInstanceRef {
  id: Generated<number>;
  try_number: number;
  chunk: string;
  /** Byte offset of the chunk in the try's whole log (text the size cap left out included); null: not tracked. */
  log_offset: number | null;
  created_at: Ms;
}

/** How much of a try's log was written, for its size cap (config task_log_max_bytes); locked by each append. */
export interface TaskLogSizeTable {
  ti_id: number;
  try_number: number;
  /** Bytes written to the try's log, kept or left out. */
  written_bytes: number;
  /** Size of the log's head once it is full; null while it is not. */
  head_bytes: number | null;
}

export interface XcomTable extends TaskInstanceRef {
  key: string;
  /** JSON value. */
  value: string;
  created_at: Ms;
}

/** The scheduler lease: the HA issue elects through it; standalone takes it at start. */
export interface SchedulerLeaseTable {
  name: string;
  holder: string;
  epoch: number;
  expires_at: Ms;
  renewed_at: Ms;
  /** The holder's DB session (PostgreSQL backend pid, MySQL connection id): gone when the holder crashed. */
  holder_session: ColumnType<string | null, string | null | undefined, string | null>;
  holder_priority: ColumnType<number | null, number | null | undefined, number | null>;
  /** A node of higher priority the holder hands the lease to once its child stopped. */
  handover_to: ColumnType<string | null, string | null | undefined, string | null>;
  /** HMAC of (cluster, holder, epoch) under the cluster secret: a holder that does not know it is ignored. */
  proof: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface HaClusterTable {
  name: string;
  salt: string;
  /** Proves a node knows the cluster secret without storing it (an HMAC under a scrypt-derived key). */
  verifier: string;
  created_at: Ms;
}

export type HaRole = "standby" | "active" | "stopped" | "refused";
export type ChildHealth = "starting" | "healthy" | "unhealthy";

export interface HaNodeTable {
  cluster: string;
  node_id: string;
  host: string;
  pid: number;
  priority: number;
  no_preempt: number;
  role: HaRole;
  last_seen: Ms;
  child_pid: number | null;
  child_health: ChildHealth | null;
  started_at: Ms;
  version: string;
}

/** What an API user may do; each role may do what the ones before it may (see api/auth/roles.ts). */
export type ApiRole = "viewer" | "user" | "op" | "admin";

export interface ApiUserTable {
  username: string;
  /** scrypt, with its parameters and salt (see api/auth/passwords.ts); never the password. */
  password_hash: string;
  role: ApiRole;
  active: number;
  created_at: Ms;
  changed_at: Ms;
  last_login_at: Ms | null;
}

export interface ApiLoginFailureTable {
  id: Generated<number>;
  username: string;
  /** The client's address. */
  client: string;
  at: Ms;
}

export interface HaEventTable {
  id: Generated<number>;
  cluster: string;
  at: Ms;
  node_id: string;
  from_role: string;
  to_role: string;
  reason: string;
  epoch: number | null;
}

export interface PoolTable {
  pool: string;
  slots: number;
  description: string | null;
}

/** Audit log of user actions (Airflow's `log` table). */
export interface EventLogTable {
  id: Generated<number>;
  dttm: Ms;
  event: string;
  dag_id: string | null;
  run_id: string | null;
  task_id: string | null;
  owner: string;
  extra: string | null;
}

export type BackfillReprocess = "none" | "failed" | "completed";

/** A backfill: runs over a date range, created up front and started within its own max active runs. */
export interface BackfillTable {
  id: Generated<number>;
  dag_id: string;
  from_date: Ms;
  to_date: Ms;
  max_active_runs: number;
  reprocess: BackfillReprocess;
  run_backwards: number;
  is_paused: number;
  /** JSON object given to every run. */
  conf: string;
  created_at: Ms;
  /** When its last run finished, or when it was cancelled. */
  completed_at: Ms | null;
  cancelled_at: Ms | null;
}

export interface AssetTable {
  id: Generated<number>;
  uri: string;
  created_at: Ms;
}

/** An update of an asset, recorded when a task that lists it in `outlets` succeeds. */
export interface AssetEventTable {
  id: Generated<number>;
  uri: string;
  source_dag_id: string | null;
  source_run_id: string | null;
  source_task_id: string | null;
  source_map_index: number | null;
  created_at: Ms;
}

export interface DagScheduleAssetTable {
  dag_id: string;
  uri: string;
}

export interface AssetDagRunQueueTable {
  id: Generated<number>;
  dag_id: string;
  uri: string;
  event_id: number;
  created_at: Ms;
}

export interface DagRunAssetEventTable {
  dag_run_id: number;
  event_id: number;
}

/** One check of a reschedule-mode sensor that was not done (Airflow's task_reschedule). */
export interface TaskRescheduleTable extends TaskInstanceRef {
  id: Generated<number>;
  try_number: number;
  start_date: Ms;
  end_date: Ms;
  /** When the sensor may check again. */
  reschedule_date: Ms;
}

export type CallbackRequestState = "pending" | "running" | "success" | "failed";

/**
 * A callback to run outside the scheduler: a DAG's onSuccess/onFailure once a run finished, or a task
 * callback its runner could not run (the try was killed). Written in the transaction that decided it.
 */
export interface CallbackRequestTable {
  id: Generated<number>;
  kind: "dag" | "task";
  /** onSuccess, onFailure, onRetry... */
  callback: string;
  dag_id: string;
  run_id: string;
  task_id: string | null;
  /** JSON: what the callback's context is built from. */
  context: string;
  state: CallbackRequestState;
  hostname: string | null;
  error: string | null;
  created_at: Ms;
  started_at: Ms | null;
  ended_at: Ms | null;
}

/** A Variable: a key with a value (encrypted at rest) that tasks and templates read. */
export interface VariableTable {
  key: string;
  /** Encrypted JSON-free text value (see runtime/secrets.ts). */
  value: string;
  description: string | null;
  is_encrypted: number;
  updated_at: Ms;
}

/** A Connection: where and how to reach an external system. password and extra are encrypted. */
export interface ConnectionTable {
  conn_id: string;
  conn_type: string;
  host: string | null;
  schema: string | null;
  login: string | null;
  password: string | null;
  port: number | null;
  extra: string | null;
  description: string | null;
  updated_at: Ms;
}

export type WorkerKind = "remote" | "local";
/** running: taking work; stopping: finishing its tries after SIGTERM; stopped: exited cleanly; dead: stopped heartbeating. */
export type WorkerState = "running" | "stopping" | "stopped" | "dead";

/** A process that runs tries: an `aloft worker`, or the local executor inside a scheduler. */
export interface WorkerTable {
  name: string;
  kind: WorkerKind;
  hostname: string;
  pid: number;
  /** JSON list of the queues it takes tries from. */
  queues: string;
  concurrency: number;
  state: WorkerState;
  version: string;
  started_at: Ms;
  /** DB time of the last heartbeat. */
  last_heartbeat: Ms;
  stopped_at: Ms | null;
  /** Tries running at the last heartbeat. */
  running: number;
  tries_done: number;
  tries_failed: number;
  /** Why it is dead or stopped. */
  reason: string | null;
}

/** One deploy that changed something: the DAG files that imported, as a content hash over their modules. */
export interface DagBundleTable {
  id: Generated<number>;
  /** sha256 over the sorted (relative path, module hash) pairs of the files that imported. */
  hash: string;
  message: string | null;
  created_at: Ms;
  file_count: number;
  /** Total size of the bundle's modules. */
  bytes: number;
}

/** A compiled DAG module (one DAG file and what it imports), stored once whatever the bundles sharing it. */
export interface BundleModuleTable {
  /** sha256 of the code. */
  hash: string;
  code: string;
  bytes: number;
  created_at: Ms;
}

/** A version of one DAG: its serialized form and the module that defines it. Never changed once written. */
export interface DagVersionTable {
  id: Generated<number>;
  dag_id: string;
  /** 1, 2, ... per DAG. */
  version_number: number;
  /** The bundle whose deploy created this version. */
  bundle_id: number;
  module_hash: string;
  /** The DAG file, relative to the bundle root. */
  fileloc: string;
  dag_hash: string;
  /** JSON SerializedDag. */
  serialized: string;
  created_at: Ms;
}

export interface Database {
  dag: DagTable;
  import_error: ImportErrorTable;
  dag_run: DagRunTable;
  task_instance: TaskInstanceTable;
  task_try: TaskTryTable;
  task_log: TaskLogTable;
  task_log_size: TaskLogSizeTable;
  xcom: XcomTable;
  scheduler_lease: SchedulerLeaseTable;
  ha_cluster: HaClusterTable;
  ha_node: HaNodeTable;
  ha_event: HaEventTable;
  pool: PoolTable;
  event_log: EventLogTable;
  backfill: BackfillTable;
  asset: AssetTable;
  asset_event: AssetEventTable;
  dag_schedule_asset: DagScheduleAssetTable;
  asset_dag_run_queue: AssetDagRunQueueTable;
  dag_run_asset_event: DagRunAssetEventTable;
  task_reschedule: TaskRescheduleTable;
  callback_request: CallbackRequestTable;
  variable: VariableTable;
  connection: ConnectionTable;
  worker: WorkerTable;
  dag_bundle: DagBundleTable;
  bundle_module: BundleModuleTable;
  dag_version: DagVersionTable;
  api_user: ApiUserTable;
  api_login_failure: ApiLoginFailureTable;
}

export type DagRunRow = Selectable<DagRunTable>;
export type BackfillRow = Selectable<BackfillTable>;
