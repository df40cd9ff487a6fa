/**
 * The runtime service: what a running try may ask of the process that holds the DB, through the
 * runtime channel (runner → runner pool → this service → reply). Every call is bound to the try the
 * pool knows is running on that runner, never to ids the runner claims, so a remote worker (a later
 * issue) can offer the same interface over the network.
 */
import type { TryRequest } from "../executor/protocol.js";
import type { SerializedDag } from "../dag/types.js";
import { DagCache } from "../scheduler/dag-cache.js";
import type { Store } from "../store/db.js";
import { taskLabel } from "../dag/validate.js";
import { findConnection } from "./connections.js";
import type { SecretBox } from "./secrets.js";
import { findVariable } from "./variables.js";
import { checkXcomSize, pullXcom, pushXcom, readMapSource } from "./xcom.js";

export interface RuntimeService {
  /** Answers one call of a running try; rejects with an Error whose message the task sees. */
  call(request: TryRequest, method: string, args: Record<string, unknown>): Promise<unknown>;
}

export interface StoreRuntimeOptions {
  box: SecretBox;
  /** Largest XCom value in JSON bytes. */
  xcomMaxBytes: number;
}

export class StoreRuntimeService implements RuntimeService {
  /** DAG versions, parsed once each (a mapped task's instances each ask for theirs). */
  private readonly dags: DagCache;

  constructor(
    private readonly store: Store,
    private readonly options: StoreRuntimeOptions,
  ) {
    this.dags = new DagCache(store);
  }

  async call(request: TryRequest, method: string, args: Record<string, unknown>): Promise<unknown> {
    const { db } = this.store;
    const where = taskLabel(request.dagId, request.taskId);
    switch (method) {
      case "xcom.push": {
        const key = String(args.key);
        const json = String(args.json);
        checkXcomSize(where, key, json, this.options.xcomMaxBytes);
        await pushXcom(this.store, request, key, json);
        return null;
      }
      case "xcom.pull":
        return pullXcom(db, request, await this.dag(request), {
          taskId: args.taskId as string,
          key: (args.key as string | undefined) ?? "return_value",
          mapIndex: args.mapIndex as number | undefined,
        });
      case "variable.get": {
        const found = await findVariable(db, this.options.box, String(args.key));
        return found ? { value: found.value } : null;
      }
      case "connection.get":
        return (await findConnection(db, this.options.box, String(args.connId))) ?? null;
      case "map.item":
        return mapItem(db, request, await this.dag(request));
      case "rendered.store":
        await db.updateTable("task_instance").set({ rendered_fields: JSON.stringify(args.fields) }).where("id", "=", request.tiId).execute();
        return null;
      default:
        throw new Error(`unknown runtime call '${method}'`);
    }
  }

  /** The DAG version the try runs, which is its run's (a version never changes, so it is cached for good). */
  private async dag(request: TryRequest): Promise<SerializedDag> {
    const version = (await this.dags.versions([request.dagVersionId])).get(request.dagVersionId);
    if (version) return version.dag;
    // The version was pruned while the try ran: the DAG's current version is the best left.
    this.dags.markStale();
    const cached = (await this.dags.load([request.dagId])).get(request.dagId);
    if (!cached) throw new Error(`${taskLabel(request.dagId, request.taskId)}: the DAG is no longer stored`);
    return cached.dag;
  }
}

/** The item of a mapped task instance: element `mapIndex` of the list it was expanded over. */
async function mapItem(db: Store["db"], request: TryRequest, dag: SerializedDag): Promise<{ item: unknown }> {
  const source = dag.tasks.find((t) => t.taskId === request.taskId)?.expandFrom;
  if (!source) throw new Error(`${taskLabel(request.dagId, request.taskId)} is not a mapped task`);
  const sourceMapped = dag.tasks.find((t) => t.taskId === source)?.expandFrom !== undefined;
  const list = await readMapSource(db, request.dagId, request.runId, source, sourceMapped);
  if (!Array.isArray(list) || request.mapIndex >= list.length) {
    throw new Error(`${taskLabel(request.dagId, request.taskId)}: map index ${request.mapIndex} has no item in the return value of '${source}'`);
  }
  return { item: list[request.mapIndex] as unknown };
}
