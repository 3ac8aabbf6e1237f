// What a target group's load balancer means for a drain, by the group's protocol: the one place
// the Application/Network Load Balancer rule lives.

/** HTTP and HTTPS groups are an Application Load Balancer's; every other protocol a Network Load Balancer's. */
export const isApplicationLoadBalancer = (protocol: string | null | undefined): boolean =>
  protocol === "HTTP" || protocol === "HTTPS"

/** An NLB goes on routing new connections to a deregistering target for about two minutes. */
export const nlbFloorSeconds = 120

/**
 * The floor: an NLB's (TCP, TLS, UDP, TCP_UDP, and an unknown protocol, to be
 * safe) is two minutes; an ALB stops sending new requests at once.
 */
const defaultFloorSeconds = (protocol: string | null | undefined): number =>
  isApplicationLoadBalancer(protocol) ? 0 : nlbFloorSeconds

/** The floor a drain of a group waits at least: DRAIN_MIN_WAIT when set, else its load balancer's. */
export const floorSeconds = (
  settings: { readonly drainMinWaitSeconds?: number | undefined },
  protocol: string | null | undefined
): number => settings.drainMinWaitSeconds ?? defaultFloorSeconds(protocol)

/** UDP carries no connections to count: such a target waits the whole bound. */
export const countsConnections = (protocol: string | null | undefined): boolean =>
  protocol !== "UDP" && protocol !== "TCP_UDP"
