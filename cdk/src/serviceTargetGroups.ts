// What the construct can know at synthesis of a service's target groups: those defined in the
// same stack, with their deregistration delay (a group imported by ARN has none known).
import { CfnResource, Stack, Token } from "aws-cdk-lib"
import type * as ecs from "aws-cdk-lib/aws-ecs"
import type { IConstruct } from "constructs"

/** ELBv2's default `deregistration_delay.timeout_seconds`. */
export const defaultDeregistrationDelaySeconds = 300

export interface KnownTargetGroup {
  /** The ARN as the template resolves it: `{ "Ref": … }` for a group of the stack, or a string. */
  readonly arn: unknown
  /** The group's construct path, or its ARN. */
  readonly name: string
  /** `undefined`: not known at synthesis. */
  readonly deregistrationDelaySeconds: number | undefined
}

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b)

/** A target group ARN resolved as the stack of `scope` would write it. */
export const resolveArn = (scope: IConstruct, arn: string): unknown => Stack.of(scope).resolve(arn)

const targetGroupsOf = (stack: Stack): ReadonlyArray<CfnResource> =>
  stack.node.findAll().filter((c): c is CfnResource =>
    CfnResource.isCfnResource(c) && c.cfnResourceType === "AWS::ElasticLoadBalancingV2::TargetGroup"
  )

const delayOf = (stack: Stack, group: CfnResource): number | undefined => {
  const attributes = stack.resolve((group as unknown as { targetGroupAttributes?: unknown }).targetGroupAttributes)
  const delay = Array.isArray(attributes)
    ? (attributes as ReadonlyArray<{ key?: unknown; value?: unknown }>).find((a) =>
      a.key === "deregistration_delay.timeout_seconds"
    )
    : undefined
  if (delay === undefined) return defaultDeregistrationDelaySeconds
  return typeof delay.value === "string" && /^\d+$/.test(delay.value) ? Number(delay.value) : undefined
}

/** A target group ARN as the message names it: the group's construct path when it is of the stack. */
export const nameOfArn = (scope: IConstruct, arn: string): string => {
  const stack = Stack.of(scope)
  const resolved = stack.resolve(arn) as unknown
  const group = targetGroupsOf(stack).find((g) => sameValue(stack.resolve(g.ref), resolved))
  return group?.node.scope?.node.path ?? (typeof resolved === "string" ? resolved : JSON.stringify(resolved))
}

/** The service's target groups (its `loadBalancers`), each once. */
export const serviceTargetGroups = (service: ecs.BaseService): ReadonlyArray<KnownTargetGroup> => {
  const stack = Stack.of(service)
  const cfnService = service.node.defaultChild as ecs.CfnService
  const loadBalancers = stack.resolve(cfnService.loadBalancers) as
    | ReadonlyArray<{ readonly targetGroupArn?: unknown }>
    | undefined
  const inStack = targetGroupsOf(stack).map((group) => ({ group, ref: stack.resolve(group.ref) }))
  const found: Array<KnownTargetGroup> = []
  for (const { targetGroupArn } of loadBalancers ?? []) {
    if (targetGroupArn === undefined || found.some((g) => sameValue(g.arn, targetGroupArn))) continue
    const group = inStack.find((g) => sameValue(g.ref, targetGroupArn))?.group
    found.push({
      arn: targetGroupArn,
      name: group?.node.scope?.node.path ?? (typeof targetGroupArn === "string" ? targetGroupArn : "an imported group"),
      deregistrationDelaySeconds: group === undefined ? undefined : delayOf(stack, group)
    })
  }
  return found
}

/**
 * Whether `arn` is one of `groups`, when that can be told at synthesis: `undefined` when the
 * ARN and a group are of different kinds (a literal string against a group of the stack).
 */
export const namesGroup = (arn: unknown, groups: ReadonlyArray<KnownTargetGroup>): boolean | undefined => {
  if (groups.some((g) => sameValue(g.arn, arn))) return true
  const literal = (v: unknown) => typeof v === "string" && !Token.isUnresolved(v)
  return groups.every((g) => literal(g.arn) === literal(arn)) ? false : undefined
}
