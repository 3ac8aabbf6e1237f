export {
  defaultDeregistrationWait,
  defaultMemoryLimitMiB,
  type DrainStrategy,
  healthCheckCommand,
  NlbSidecar,
  type NlbSidecarProps
} from "./NlbSidecar.ts"
export { actionsFor, actionsOf, type PermissionMode, type PermissionRow, permissionRows } from "./permissions.ts"
