// For the services' `layerTest`: a test implements only the methods it needs;
// calling any other dies with a message naming it, rather than with a TypeError.
import { type Context, Effect } from "effect"

export const partialService = <I, S extends object>(service: Context.Key<I, S>, implemented: Partial<S>): S =>
  new Proxy(implemented, {
    get: (target, key) =>
      key in target || typeof key === "symbol"
        ? Reflect.get(target, key)
        : () => Effect.die(new Error(`${service.key}.${String(key)} is not implemented by this test`))
  }) as S
