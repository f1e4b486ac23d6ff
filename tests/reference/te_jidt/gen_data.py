# Generates the reference series of this folder (numpy Generator, fixed seeds); writes <name>.csv next to this file.
import numpy as np, os
out = os.path.dirname(os.path.abspath(__file__))
def write(name, s, t):
    with open(os.path.join(out, name + ".csv"), "w") as f:
        for a, b in zip(s, t):
            f.write(repr(float(a)) + "," + repr(float(b)) + "\n")
# (i) linear Gaussian, N=2000
rng = np.random.default_rng(20250413)
N = 2000
y = rng.standard_normal(N + 1); z = rng.standard_normal(N + 1)
x = 0.4 * y[:-1] + 0.6 * z[1:]; y = y[1:]
write("lg_n2000", y, x)
# (ii) same process, N=500, rounded to 1 decimal (ties)
rng = np.random.default_rng(20250414)
N = 500
y = rng.standard_normal(N + 1); z = rng.standard_normal(N + 1)
x = 0.4 * y[:-1] + 0.6 * z[1:]; y = y[1:]
write("lg_n500_round1", np.round(y, 1), np.round(x, 1))
# (iii) N=1000, source AR(1), target driven at lag 2 with its own lag-2 memory
rng = np.random.default_rng(20250415)
N = 1000; B = 100
e = rng.standard_normal(N + B); z = rng.standard_normal(N + B)
y = np.zeros(N + B); x = np.zeros(N + B)
for t in range(N + B):
    y[t] = (0.5 * y[t-1] if t >= 1 else 0.0) + e[t]
    x[t] = (0.3 * x[t-2] + 0.4 * y[t-2] if t >= 2 else 0.0) + 0.6 * z[t]
write("embed_n1000", y[B:], x[B:])
# (iv) binary target with continuous source, N=25000: counts in the target-past space exceed 10000,
#      which exercises JIDT's switch of digamma implementation at argument 10000
rng = np.random.default_rng(20250416)
N = 25000
y = rng.standard_normal(N + 1); z = rng.standard_normal(N + 1)
x = (0.8 * y[:-1] + 0.6 * z[1:] > 0).astype(float); y = y[1:]
write("binary_target_n25000", y, x)
