# Sourced by the GPU scripts (tools/gpu_*.sh): brings the project's dependencies onto a bare GPU host.
# - .whl and .whl-procgen (../shared/tools/device-wheels.sh; name both in the device tool's carry): installed into
#   /tmp/site without dependency checks (procgen runs with numpy 2 although its metadata asks for numpy<2);
# - or .devsite/site.tar.xz: the same wheels unzipped into one folder, tar + xz -9;
# - .devsite/libs/: libGL, libGLX, X11 client libraries ... that procgen's libenv.so needs, where the host lacks them.
# Exports PYTHONPATH, LD_LIBRARY_PATH and PY (the interpreter, default python3).
if ls .whl/*.whl >/dev/null 2>&1; then
  [ -d /tmp/site/procgen ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --target /tmp/site .whl/*.whl .whl-procgen/*.whl
  export PYTHONPATH=/tmp/site:$PWD
elif [ -f .devsite/site.tar.xz ]; then
  [ -d /tmp/site/procgen ] || { mkdir -p /tmp/site && tar -xJf .devsite/site.tar.xz -C /tmp/site; }
  export PYTHONPATH=/tmp/site:$PWD
fi
if [ -d .devsite/libs ]; then
  mkdir -p /tmp/gllibs
  for f in .devsite/libs/*; do ldconfig -p | grep -q "$(basename "$f") " || cp "$f" /tmp/gllibs/; done
  export LD_LIBRARY_PATH=/tmp/gllibs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
export PY=${PY:-python3}
$PY -c "import torch, diffusers, gymnasium, stable_baselines3; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())
from adaworld_gym.envs.procgen_batch import ProcgenBatch; print('procgen', ProcgenBatch('maze', 2).obs.shape)" \
  || { echo "the project's dependencies do not import or procgen does not run here: see tools/gpu_site.sh"; exit 3; }
