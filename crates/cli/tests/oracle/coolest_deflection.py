"""Loads an astrorim coolest.json with the coolest package and evaluates the
lens it describes with coolest's own profiles (PEMD at γ = 2 is the SIE,
ExternalShear), printing the deflections at the given points as JSON.

usage: coolest_deflection.py DIR x1,y1 x2,y2 …"""
import json
import os
import sys

import numpy as np
from coolest.api.profiles.mass import PEMD, ExternalShear
from coolest.template.json import JSONSerializer

directory = sys.argv[1]
points = np.array([[float(v) for v in p.split(",")] for p in sys.argv[2:]])
coolest = JSONSerializer(os.path.join(os.path.abspath(directory), "coolest"), check_external_files=True).load(skip_jsonpickle=True, verbose=False)
value = lambda profile, name: profile.parameters[name].point_estimate.value
lens, shear = coolest.lensing_entities[0], coolest.lensing_entities[1]
assert lens.type == "Galaxy" and shear.type == "MassField"
sie = lens.mass_model[0]
assert sie.type == "SIE"
kw = {k: value(sie, k) for k in ("theta_E", "q", "phi", "center_x", "center_y")}
ax, ay = PEMD().deflection(points[:, 0], points[:, 1], gamma=2.0, **kw)
ext = shear.mass_model[0]
sx, sy = ExternalShear().deflection(points[:, 0], points[:, 1], gamma_ext=value(ext, "gamma_ext"), phi_ext=value(ext, "phi_ext"))
source = coolest.lensing_entities[2].light_model[0]
print(json.dumps({
    "alpha_x": list(map(float, ax + sx)),
    "alpha_y": list(map(float, ay + sy)),
    "source_type": source.type,
    "mode": coolest.mode,
    "lens_redshift": lens.redshift,
}))
