/** The authoring API DAG files import: `import { dag, task, bash } from "aloft"`. */
export { dag, task, bash, chain } from "./dag/builder.js";
export { SkipTask, FailTask } from "./dag/signals.js";
export { asset, allOf, anyOf } from "./dag/assets.js";
export type { Asset, AssetAll, AssetAny, AssetExpression } from "./dag/assets.js";
export { TRIGGER_RULES, WEIGHT_RULES } from "./dag/types.js";
export { branch, shortCircuit, sensor, setup, teardown, group } from "./dag/structure.js";
export type { BranchFunction, BranchResult, GroupOptions, ShortCircuitOptions, TeardownOptions } from "./dag/structure.js";
export { param } from "./dag/params.js";
export type { Param, ParamSchema } from "./dag/params.js";
export type {
  ConnectionAccess,
  ConnectionInfo,
  Dag,
  DagCallback,
  DagCallbackContext,
  DagOptions,
  Dependable,
  SensorFunction,
  SensorOptions,
  SensorResult,
  TaskCallback,
  TaskCallbackContext,
  TaskGroupRef,
  Duration,
  TaskContext,
  TaskFunction,
  TaskLogger,
  TaskOptions,
  TaskRef,
  TriggerRule,
  WeightRule,
  VariableAccess,
  XComAccess,
} from "./dag/types.js";
