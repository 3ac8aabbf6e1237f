// The part of the ECS client the sidecar uses. Ecs.ts imports this module on
// first use; a dynamic import of the package itself would keep every command,
// waiter and paginator of ECS in the bundle (and in memory, ~3 MiB).
export {
  DescribeContainerInstancesCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient
} from "@aws-sdk/client-ecs"
