"""The main demo (``make demo``): a small worked example of backpropagation.

f(a, b, c) = tanh(a * b + c), at a = 1, b = 2, c = 0.5. By the chain rule,
df/dc = 1 - tanh(a b + c)^2, df/da = b (1 - tanh^2), df/db = a (1 - tanh^2).
"""
import math

from micrograd_mlp import Value


def main():
    a, b, c = Value(1.0, "a"), Value(2.0, "b"), Value(0.5, "c")
    s = a * b + c
    s.label = "s"
    f = s.tanh()
    f.label = "f"
    f.backward()
    print("f = tanh(a*b + c) at a=1, b=2, c=0.5")
    print(f"  s = a*b + c = {s.data:.6f}")
    print(f"  f = tanh(s) = {f.data:.6f}")
    local = 1 - math.tanh(s.data) ** 2
    print(f"  df/ds = 1 - tanh(s)^2 = {s.grad:.6f}   (by hand: {local:.6f})")
    for v in (a, b, c):
        print(f"  df/d{v.label} = {v.grad:.6f}")


if __name__ == "__main__":
    main()
