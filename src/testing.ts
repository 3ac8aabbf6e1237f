// For the services' `layerTest`: a test implements only the methods it needs;
// calling any other dies with a message naming it, rather than with a TypeError.
import { Effect } from "effect"

export const partialService = <S extends object>(name: string, implemented: Partial<S>): S =>
  new Proxy(implemented, {
    get: (target, key) =>
      key in target || typeof key === "symbol"
        ? Reflect.get(target, key)
        : () => Effect.die(new Error(`${name}.${String(key)} is not implemented by this test`))
  }) as S
