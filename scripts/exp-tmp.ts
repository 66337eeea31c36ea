import { spawn } from 'node:child_process';
import { createWorkdir, emulatorProvider, findProviderMirror, pinnedProviderVersion } from './terraform-cli.js';
const stackDir = '/work/main/cdktf.out/stacks/image-conditioning-pipeline';
const port = 45992;
const moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
try {
  await new Promise((r) => setTimeout(r, 2500));
  const mirror = findProviderMirror(pinnedProviderVersion(`${stackDir}/cdk.tf.json`));
  const wd = createWorkdir({ stackDir, mirrorRoot: mirror, provider: emulatorProvider(`http://127.0.0.1:${port}`) });
  console.log(wd.dir);
  let r = await wd.terraform(['init', '-input=false', '-no-color']); console.log('init', r.seconds);
  r = await wd.terraform(['apply', '-auto-approve', '-input=false', '-no-color'], { echo: false }); console.log('apply', r.seconds); console.log(r.stdout.split('\n').filter(l=>/Creation complete|Apply complete|Still/.test(l)).join('\n'));
  r = await wd.terraform(['plan', '-detailed-exitcode', '-input=false', '-no-color'], { okExitCodes: [0, 2] }); console.log('plan', r.exitCode, r.seconds); if (r.exitCode===2) console.log(r.stdout.slice(0, 4000));
  r = await wd.terraform(['destroy', '-auto-approve', '-input=false', '-no-color']); console.log('destroy', r.seconds);
  const data = await (await fetch(`http://127.0.0.1:${port}/moto-api/data.json`)).text(); console.log(data.slice(0, 3000));
} finally { moto.kill(); }
