// The simulator through the official SDK clients: every operation parses,
// every error arrives as the SDK error AWS's answer would produce.
import { DescribeContainerInstancesCommand, DescribeServicesCommand, DescribeTasksCommand } from "@aws-sdk/client-ecs"
import {
  DescribeTargetGroupAttributesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand
} from "@aws-sdk/client-elastic-load-balancing-v2"
import { describe, expect, it } from "vitest"
import { decodeScenario, type Scenario } from "../../simulator/scenario.ts"
import { adminGroupArn, greenGroupArn, loadScenario, webGroupArn } from "../../simulator/scenarios.ts"
import { harness, sdkError, withFaults } from "./helpers.ts"

const taskArn = "arn:aws:ecs:us-east-1:111122223333:task/default/febee046097849aba589d4435207c04a"
const containerInstanceArn =
  "arn:aws:ecs:us-east-1:111122223333:container-instance/default/1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"
const uuidLike = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe("ELBv2 through the SDK", () => {
  it("DescribeTargetGroups: by ARN, by name, all; the NLB group's fields", async () => {
    const { elb } = await harness(loadScenario("two-target-groups"))
    const byArn = await elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [webGroupArn] }))
    expect(byArn.TargetGroups).toEqual([{
      TargetGroupArn: webGroupArn,
      TargetGroupName: "web",
      Protocol: "TCP",
      Port: 8080,
      VpcId: expect.stringMatching(/^vpc-[0-9a-f]{17}$/),
      HealthCheckProtocol: "TCP",
      HealthCheckPort: "traffic-port",
      HealthCheckEnabled: true,
      HealthCheckIntervalSeconds: 30,
      HealthCheckTimeoutSeconds: 10,
      HealthyThresholdCount: 5,
      UnhealthyThresholdCount: 2,
      LoadBalancerArns: [
        expect.stringMatching(
          /^arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer\/net\/web-lb\/[0-9a-f]{16}$/
        )
      ],
      TargetType: "ip",
      IpAddressType: "ipv4"
    }])
    expect(byArn.$metadata).toMatchObject({ httpStatusCode: 200, requestId: expect.stringMatching(uuidLike) })
    const byName = await elb.send(new DescribeTargetGroupsCommand({ Names: ["admin"] }))
    expect(byName.TargetGroups?.map((g) => g.TargetGroupArn)).toEqual([adminGroupArn])
    const all = await elb.send(new DescribeTargetGroupsCommand({}))
    expect(all.TargetGroups?.map((g) => g.TargetGroupArn)).toEqual([webGroupArn, adminGroupArn])
  })

  it("DescribeTargetHealth for named targets: Target with AvailabilityZone (ip), HealthCheckPort, TargetHealth, AdministrativeOverride", async () => {
    const { elb } = await harness(loadScenario("awsvpc"))
    const out = await elb.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn, Targets: [{ Id: "10.0.1.23", Port: 8080 }] })
    )
    expect(out.TargetHealthDescriptions).toEqual([{
      Target: { Id: "10.0.1.23", Port: 8080, AvailabilityZone: "us-east-1a" },
      HealthCheckPort: "8080",
      TargetHealth: { State: "healthy" },
      AdministrativeOverride: {
        State: "no_override",
        Reason: "AdministrativeOverride.NoOverride",
        Description: "No override is currently active on target"
      }
    }])
    expect(out.$metadata.requestId).toMatch(uuidLike)
  })

  it("DescribeTargetHealth without Targets lists every registered target; instance targets have no AvailabilityZone", async () => {
    const { elb } = await harness(loadScenario("bridge"))
    const out = await elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn }))
    expect(out.TargetHealthDescriptions?.map((d) => d.Target)).toEqual([
      { Id: "i-0f1e2d3c4b5a69788", Port: 32768 },
      { Id: "i-0598c7d356eba48d7", Port: 32768 }
    ])
  })

  it("a target asked for but not registered: unused / Target.NotRegistered, no HealthCheckPort", async () => {
    const { elb } = await harness(loadScenario("awsvpc"))
    const out = await elb.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn, Targets: [{ Id: "10.0.9.9", Port: 8080 }] })
    )
    expect(out.TargetHealthDescriptions).toEqual([{
      Target: { Id: "10.0.9.9", Port: 8080 },
      TargetHealth: {
        State: "unused",
        Reason: "Target.NotRegistered",
        Description: "Target is not registered to the target group"
      }
    }])
  })

  it("a port left out means the group's port", async () => {
    const { elb } = await harness(loadScenario("awsvpc"))
    const out = await elb.send(
      new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn, Targets: [{ Id: "10.0.1.23" }] })
    )
    expect(out.TargetHealthDescriptions?.[0]).toMatchObject({
      Target: { Id: "10.0.1.23", Port: 8080 },
      TargetHealth: { State: "healthy" }
    })
  })

  it("an instance the account does not have: InvalidTarget (the SDK's InvalidTargetException, Code InvalidTarget), 400", async () => {
    const { elb } = await harness(loadScenario("bridge"))
    const error = await sdkError(
      elb.send(
        new DescribeTargetHealthCommand({
          TargetGroupArn: webGroupArn,
          Targets: [{ Id: "i-00000000000000000", Port: 32768 }]
        })
      )
    )
    expect(error).toMatchObject({
      name: "InvalidTargetException",
      Code: "InvalidTarget",
      $fault: "client",
      $metadata: { httpStatusCode: 400, requestId: expect.stringMatching(uuidLike) }
    })
    expect(error.message).toContain("i-00000000000000000")
    // A known instance on a port it is not registered on is merely unused.
    const known = await elb.send(
      new DescribeTargetHealthCommand({
        TargetGroupArn: webGroupArn,
        Targets: [{ Id: "i-0598c7d356eba48d7", Port: 9999 }]
      })
    )
    expect(known.TargetHealthDescriptions?.[0]?.TargetHealth?.Reason).toBe("Target.NotRegistered")
  })

  it("an unknown group: TargetGroupNotFound from both operations (the SDK's TargetGroupNotFoundException)", async () => {
    const { elb } = await harness(loadScenario("awsvpc"))
    const gone = webGroupArn.replace("73e2d6bc24d8a067", "0000000000000000")
    for (
      const call of [
        elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [gone] })),
        elb.send(new DescribeTargetHealthCommand({ TargetGroupArn: gone, Targets: [{ Id: "10.0.1.23", Port: 8080 }] }))
      ]
    ) {
      expect(await sdkError(call)).toMatchObject({
        name: "TargetGroupNotFoundException",
        Code: "TargetGroupNotFound",
        $metadata: { httpStatusCode: 400 }
      })
    }
  })

  it("injected faults: Throttling 400, AccessDenied 403, ServiceUnavailable 503, InternalFailure 500, TargetGroupNotFound", async () => {
    const h = await harness(withFaults(loadScenario("awsvpc"), [
      { api: "elbv2", action: "DescribeTargetHealth", from: 100, until: 200, kind: "throttle" },
      { api: "elbv2", action: "DescribeTargetHealth", from: 200, until: 300, kind: "access-denied" },
      { api: "elbv2", action: "DescribeTargetHealth", from: 300, until: 400, kind: "server-error" },
      { api: "elbv2", action: "DescribeTargetHealth", from: 400, until: 500, kind: "server-error", status: 500 },
      { api: "elbv2", action: "DescribeTargetHealth", from: 500, until: 600, kind: "not-found" }
    ]))
    const poll = () =>
      h.elb.send(
        new DescribeTargetHealthCommand({ TargetGroupArn: webGroupArn, Targets: [{ Id: "10.0.1.23", Port: 8080 }] })
      )
    const seen = []
    for (const t of [100, 200, 300, 400, 500]) {
      h.at(t)
      const e = await sdkError(poll())
      seen.push({
        name: e.name,
        status: e.$metadata.httpStatusCode,
        fault: e.$fault,
        requestId: uuidLike.test(e.$metadata.requestId ?? "")
      })
    }
    expect(seen).toEqual([
      { name: "Throttling", status: 400, fault: "client", requestId: true },
      { name: "AccessDenied", status: 403, fault: "client", requestId: true },
      { name: "ServiceUnavailable", status: 503, fault: "server", requestId: true },
      { name: "InternalFailure", status: 500, fault: "server", requestId: true },
      { name: "TargetGroupNotFoundException", status: 400, fault: "client", requestId: true }
    ])
    h.at(200)
    expect((await sdkError(poll())).message).toBe(
      "User: arn:aws:sts::111122223333:assumed-role/web-task/febee046097849aba589d4435207c04a is not authorized to perform: elasticloadbalancing:DescribeTargetHealth because no identity-based policy allows the elasticloadbalancing:DescribeTargetHealth action"
    )
    h.at(600)
    expect((await poll()).TargetHealthDescriptions?.[0]?.TargetHealth?.State).toBe("healthy")
  })
})

describe("DescribeTargetGroupAttributes through the SDK", () => {
  /** The awsvpc scenario with its group changed. */
  const withGroup = (change: Partial<Scenario["targetGroups"][number]>, base = loadScenario("awsvpc")): Scenario =>
    decodeScenario({ ...base, targetGroups: base.targetGroups.map((g) => ({ ...g, ...change })) })
  const attributes = async (scenario: Scenario) => {
    const { elb } = await harness(scenario)
    const out = await elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: webGroupArn }))
    expect(out.$metadata).toMatchObject({ httpStatusCode: 200, requestId: expect.stringMatching(uuidLike) })
    return Object.fromEntries((out.Attributes ?? []).map((a) => [a.Key, a.Value]))
  }
  const groupHealth = {
    "load_balancing.cross_zone.enabled": "use_load_balancer_configuration",
    "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
    "target_group_health.dns_failover.minimum_healthy_targets.percentage": "off",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
    "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off"
  }

  it("a Network Load Balancer's TCP group of ip targets: its attributes and defaults, the deregistration delay 300 s", async () => {
    expect(await attributes(loadScenario("awsvpc"))).toEqual({
      "stickiness.enabled": "false",
      "deregistration_delay.timeout_seconds": "300",
      "stickiness.type": "source_ip",
      "deregistration_delay.connection_termination.enabled": "false",
      "preserve_client_ip.enabled": "false",
      "proxy_protocol_v2.enabled": "false",
      "target_health_state.unhealthy.connection_termination.enabled": "true",
      "target_health_state.unhealthy.draining_interval_seconds": "0",
      ...groupHealth
    })
  })

  it("the defaults that depend on the group: instance targets keep the client IP; UDP terminates connections after the delay", async () => {
    expect(await attributes(loadScenario("bridge"))).toMatchObject({
      "preserve_client_ip.enabled": "true",
      "deregistration_delay.connection_termination.enabled": "false"
    })
    expect(await attributes(withGroup({ protocol: "UDP" }))).toMatchObject({
      "preserve_client_ip.enabled": "true",
      "deregistration_delay.connection_termination.enabled": "true",
      "target_health_state.unhealthy.connection_termination.enabled": "false"
    })
  })

  it("an Application Load Balancer's HTTP group: cookie stickiness, slow start, the algorithm; none of the NLB attributes", async () => {
    expect(await attributes(withGroup({ protocol: "HTTP", deregistrationDelaySeconds: 30 }))).toEqual({
      "stickiness.enabled": "false",
      "deregistration_delay.timeout_seconds": "30",
      "stickiness.type": "lb_cookie",
      "stickiness.lb_cookie.duration_seconds": "86400",
      "slow_start.duration_seconds": "0",
      "stickiness.app_cookie.cookie_name": "",
      "stickiness.app_cookie.duration_seconds": "86400",
      "load_balancing.algorithm.type": "round_robin",
      "load_balancing.algorithm.anomaly_mitigation": "off",
      ...groupHealth
    })
  })

  it("the delay is the scenario's: its timing for a built-in one, in whole seconds up to 3600; 0 allowed", async () => {
    expect(
      (await attributes(loadScenario("awsvpc", { deregistrationDelayMs: 20_400 })))[
        "deregistration_delay.timeout_seconds"
      ]
    ).toBe("20")
    expect(
      (await attributes(loadScenario("awsvpc", { deregistrationDelayMs: 7_200_000 })))[
        "deregistration_delay.timeout_seconds"
      ]
    ).toBe("3600")
    expect((await attributes(withGroup({ deregistrationDelaySeconds: 0 })))["deregistration_delay.timeout_seconds"])
      .toBe("0")
  })

  it("an unknown group is TargetGroupNotFound; no ARN is a ValidationError", async () => {
    const { elb } = await harness(loadScenario("awsvpc"))
    const gone = webGroupArn.replace("73e2d6bc24d8a067", "0000000000000000")
    const error = await sdkError(elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: gone })))
    expect(error).toMatchObject({
      name: "TargetGroupNotFoundException",
      Code: "TargetGroupNotFound",
      $fault: "client",
      $metadata: { httpStatusCode: 400 }
    })
    expect(error.message).toContain(gone)
    const missing = await sdkError(elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: "" })))
    expect(missing).toMatchObject({ name: "ValidationError", $metadata: { httpStatusCode: 400 } })
  })

  it("injected faults: AccessDenied 403 naming the action, Throttling 400, ServiceUnavailable 503; other actions unaffected", async () => {
    const h = await harness(withFaults(loadScenario("awsvpc"), [
      { api: "elbv2", action: "DescribeTargetGroupAttributes", from: 0, until: 100, kind: "access-denied" },
      { api: "elbv2", action: "DescribeTargetGroupAttributes", from: 100, until: 200, kind: "throttle" },
      { api: "elbv2", action: "DescribeTargetGroupAttributes", from: 200, until: 300, kind: "server-error" }
    ]))
    const describe = () => h.elb.send(new DescribeTargetGroupAttributesCommand({ TargetGroupArn: webGroupArn }))
    const denied = await sdkError(describe())
    expect(denied).toMatchObject({ name: "AccessDenied", $fault: "client", $metadata: { httpStatusCode: 403 } })
    expect(denied.message).toBe(
      "User: arn:aws:sts::111122223333:assumed-role/web-task/febee046097849aba589d4435207c04a is not authorized to perform: elasticloadbalancing:DescribeTargetGroupAttributes because no identity-based policy allows the elasticloadbalancing:DescribeTargetGroupAttributes action"
    )
    expect((await h.elb.send(new DescribeTargetGroupsCommand({ TargetGroupArns: [webGroupArn] }))).TargetGroups)
      .toHaveLength(1)
    const rest = []
    for (const t of [100, 200]) {
      h.at(t)
      const e = await sdkError(describe())
      rest.push([e.name, e.$metadata.httpStatusCode, e.$fault])
    }
    expect(rest).toEqual([["Throttling", 400, "client"], ["ServiceUnavailable", 503, "server"]])
    h.at(300)
    expect((await describe()).Attributes?.find((a) => a.Key === "deregistration_delay.timeout_seconds")?.Value).toBe(
      "300"
    )
  })
})

describe("ECS through the SDK", () => {
  it("DescribeTasks (EC2 awsvpc): group, container instance, ENI attachment, container network interfaces, timestamps", async () => {
    const { ecs } = await harness(loadScenario("awsvpc"))
    const out = await ecs.send(new DescribeTasksCommand({ cluster: "default", tasks: [taskArn] }))
    expect(out.failures).toEqual([])
    const task = out.tasks?.[0]
    expect(task).toMatchObject({
      taskArn,
      clusterArn: "arn:aws:ecs:us-east-1:111122223333:cluster/default",
      taskDefinitionArn: "arn:aws:ecs:us-east-1:111122223333:task-definition/web:12",
      group: "service:web",
      startedBy: expect.stringMatching(/^ecs-svc\/\d{19}$/),
      launchType: "EC2",
      lastStatus: "RUNNING",
      desiredStatus: "RUNNING",
      containerInstanceArn,
      availabilityZone: "us-east-1a"
    })
    expect(task?.createdAt).toBeInstanceOf(Date)
    const eni = task?.attachments?.[0]
    expect(eni).toMatchObject({ type: "ElasticNetworkInterface", status: "ATTACHED" })
    expect(eni?.details?.find((d) => d.name === "privateIPv4Address")?.value).toBe("10.0.1.23")
    expect(task?.containers?.map((c) => [c.name, c.networkBindings, c.networkInterfaces])).toEqual([
      ["app", [], [{ attachmentId: eni?.id, privateIpv4Address: "10.0.1.23" }]],
      ["nlb-sidecar", [], [{ attachmentId: eni?.id, privateIpv4Address: "10.0.1.23" }]]
    ])
  })

  it("DescribeTasks (bridge): networkBindings with the dynamic host port, once (IPv6 bindings left out); by task id too", async () => {
    const { ecs } = await harness(loadScenario("bridge"))
    const out = await ecs.send(
      new DescribeTasksCommand({
        cluster: "arn:aws:ecs:us-east-1:111122223333:cluster/default",
        tasks: ["febee046097849aba589d4435207c04a"]
      })
    )
    expect(out.tasks?.[0]?.attachments).toEqual([])
    expect(out.tasks?.[0]?.containers?.[0]?.networkBindings).toEqual([{
      bindIP: "0.0.0.0",
      containerPort: 8080,
      hostPort: 32768,
      protocol: "tcp"
    }])
  })

  it("DescribeTasks (Fargate, standalone): no container instance, platform version, group family:NAME", async () => {
    const fargate = await harness(loadScenario("fargate"))
    const task = (await fargate.ecs.send(
      new DescribeTasksCommand({ cluster: "production", tasks: ["febee046097849aba589d4435207c04a"] })
    )).tasks?.[0]
    expect(task).toMatchObject({ launchType: "FARGATE", platformVersion: "1.4.0", cpu: "256", memory: "512" })
    expect(task?.containerInstanceArn).toBeUndefined()
    const standalone = await harness(loadScenario("not-in-service"))
    const group = (await standalone.ecs.send(new DescribeTasksCommand({ cluster: "default", tasks: [taskArn] }))).tasks
      ?.[0]?.group
    expect(group).toBe("family:web")
  })

  it("unknown tasks, services and container instances are failures with reason MISSING and a full ARN", async () => {
    const { ecs } = await harness(loadScenario("bridge"))
    const tasks = await ecs.send(
      new DescribeTasksCommand({ cluster: "default", tasks: [taskArn, "0123456789abcdef0123456789abcdef"] })
    )
    expect(tasks.tasks?.length).toBe(1)
    expect(tasks.failures).toEqual([{
      arn: "arn:aws:ecs:us-east-1:111122223333:task/default/0123456789abcdef0123456789abcdef",
      reason: "MISSING"
    }])
    const services = await ecs.send(new DescribeServicesCommand({ cluster: "default", services: ["api"] }))
    expect(services).toMatchObject({
      services: [],
      failures: [{ arn: "arn:aws:ecs:us-east-1:111122223333:service/default/api", reason: "MISSING" }]
    })
    const instances = await ecs.send(
      new DescribeContainerInstancesCommand({
        cluster: "default",
        containerInstances: ["ffffffffffffffffffffffffffffffff"]
      })
    )
    expect(instances).toMatchObject({ containerInstances: [], failures: [{ reason: "MISSING" }] })
  })

  it("DescribeServices: load balancers, ACTIVE; by name or ARN; a standalone task's missing service is MISSING", async () => {
    const { ecs } = await harness(loadScenario("two-target-groups"))
    const out = await ecs.send(
      new DescribeServicesCommand({
        cluster: "default",
        services: ["arn:aws:ecs:us-east-1:111122223333:service/default/web"]
      })
    )
    expect(out.failures).toEqual([])
    expect(out.services?.[0]).toMatchObject({
      serviceName: "web",
      serviceArn: "arn:aws:ecs:us-east-1:111122223333:service/default/web",
      clusterArn: "arn:aws:ecs:us-east-1:111122223333:cluster/default",
      status: "ACTIVE",
      launchType: "EC2",
      loadBalancers: [
        { targetGroupArn: webGroupArn, containerName: "app", containerPort: 8080 },
        { targetGroupArn: adminGroupArn, containerName: "app", containerPort: 9090 }
      ]
    })
    expect(out.services?.[0]?.deployments?.[0]?.createdAt).toBeInstanceOf(Date)
    const standalone = await harness(loadScenario("not-in-service"))
    const missing = await standalone.ecs.send(new DescribeServicesCommand({ cluster: "default", services: ["web"] }))
    expect(missing).toMatchObject({ services: [], failures: [{ reason: "MISSING" }] })
  })

  it("DescribeServices (native blue/green): the load balancer's advancedConfiguration, the BLUE_GREEN strategy", async () => {
    const { ecs } = await harness(loadScenario("blue-green"))
    const out = await ecs.send(new DescribeServicesCommand({ cluster: "default", services: ["web"] }))
    expect(out.services?.[0]).toMatchObject({
      deploymentController: { type: "ECS" },
      deploymentConfiguration: { strategy: "BLUE_GREEN", bakeTimeInMinutes: 5 },
      loadBalancers: [{
        targetGroupArn: webGroupArn,
        containerName: "app",
        containerPort: 8080,
        advancedConfiguration: {
          alternateTargetGroupArn: greenGroupArn,
          productionListenerRule: expect.stringMatching(/^arn:aws:elasticloadbalancing:.*:listener\/net\//),
          roleArn: expect.stringMatching(/^arn:aws:iam::111122223333:role\//)
        }
      }]
    })
    expect(out.services?.[0]?.taskSets).toBeUndefined()
  })

  it("DescribeServices (CODE_DEPLOY): the task sets with their own load balancers; DescribeTasks startedBy is the task's task set", async () => {
    const { ecs } = await harness(loadScenario("codedeploy"))
    const out = await ecs.send(new DescribeServicesCommand({ cluster: "default", services: ["web"] }))
    const service = out.services?.[0]
    expect(service?.deploymentController).toEqual({ type: "CODE_DEPLOY" })
    expect(service?.deployments).toEqual([])
    expect(service?.taskSets?.map((ts) => [ts.status, ts.startedBy, ts.loadBalancers?.[0]?.targetGroupArn])).toEqual([
      ["PRIMARY", "CODE_DEPLOY", greenGroupArn],
      ["ACTIVE", "CODE_DEPLOY", webGroupArn]
    ])
    expect(service?.taskSets?.[0]).toMatchObject({
      id: expect.stringMatching(/^ecs-svc\/\d{19}$/),
      taskSetArn: expect.stringMatching(/^arn:aws:ecs:us-east-1:111122223333:task-set\/default\/web\/ecs-svc\/\d{19}$/),
      externalId: expect.stringMatching(/^d-[0-9A-F]{9}$/),
      scale: { value: 100, unit: "PERCENT" }
    })
    expect(service?.taskSets?.[0]?.createdAt).toBeInstanceOf(Date)
    const tasks = await ecs.send(new DescribeTasksCommand({ cluster: "default", tasks: [taskArn] }))
    expect(tasks.tasks?.[0]?.startedBy).toBe(service?.taskSets?.[0]?.id)
  })

  it("DescribeContainerInstances: the EC2 instance id, by ARN or id", async () => {
    const { ecs } = await harness(loadScenario("host"))
    for (const ref of [containerInstanceArn, "1a2b3c4d5e6f47a8b9c0d1e2f3a4b5c6"]) {
      const out = await ecs.send(
        new DescribeContainerInstancesCommand({ cluster: "default", containerInstances: [ref] })
      )
      expect(out.containerInstances?.[0]).toMatchObject({
        containerInstanceArn,
        ec2InstanceId: "i-0598c7d356eba48d7",
        status: "ACTIVE",
        agentConnected: true
      })
    }
  })

  it("a cluster that is not the task's (or `default` when none is named): ClusterNotFoundException", async () => {
    const { ecs } = await harness(loadScenario("fargate"))
    for (const cluster of ["staging", undefined]) {
      const error = await sdkError(
        ecs.send(new DescribeTasksCommand({ ...(cluster === undefined ? {} : { cluster }), tasks: [taskArn] }))
      )
      expect(error).toMatchObject({
        name: "ClusterNotFoundException",
        message: "Cluster not found.",
        $metadata: { httpStatusCode: 400 }
      })
    }
  })

  it("no tasks named: InvalidParameterException", async () => {
    const { ecs } = await harness(loadScenario("awsvpc"))
    expect(await sdkError(ecs.send(new DescribeTasksCommand({ cluster: "default", tasks: [] })))).toMatchObject({
      name: "InvalidParameterException",
      $metadata: { httpStatusCode: 400 }
    })
  })

  it("injected faults: AccessDeniedException 400 naming action and resource, ThrottlingException 400, ServerException 500, ClusterNotFoundException", async () => {
    const h = await harness(withFaults(loadScenario("awsvpc"), [
      { api: "ecs", action: "DescribeServices", from: 0, until: 100, kind: "access-denied" },
      { api: "ecs", from: 100, until: 200, kind: "throttle" },
      { api: "ecs", from: 200, until: 300, kind: "server-error" },
      { api: "ecs", from: 300, until: 400, kind: "not-found" }
    ]))
    const describe = () => h.ecs.send(new DescribeServicesCommand({ cluster: "default", services: ["web"] }))
    const denied = await sdkError(describe())
    expect(denied).toMatchObject({
      name: "AccessDeniedException",
      $fault: "client",
      $metadata: { httpStatusCode: 400, requestId: expect.stringMatching(uuidLike) }
    })
    expect(denied.message).toBe(
      "User: arn:aws:sts::111122223333:assumed-role/web-task/febee046097849aba589d4435207c04a is not authorized to perform: ecs:DescribeServices on resource: arn:aws:ecs:us-east-1:111122223333:service/default/web because no identity-based policy allows the ecs:DescribeServices action"
    )
    // Only DescribeServices is denied.
    expect((await h.ecs.send(new DescribeTasksCommand({ cluster: "default", tasks: [taskArn] }))).tasks).toHaveLength(1)
    const rest = []
    for (const t of [100, 200, 300]) {
      h.at(t)
      const e = await sdkError(describe())
      rest.push([e.name, e.$metadata.httpStatusCode, e.$fault, e.message])
    }
    expect(rest).toEqual([
      ["ThrottlingException", 400, "client", "Rate exceeded"],
      ["ServerException", 500, "server", "Service Unavailable. Please try again later."],
      ["ClusterNotFoundException", 400, "client", "Cluster not found."]
    ])
    h.at(400)
    expect((await describe()).services).toHaveLength(1)
  })
})
