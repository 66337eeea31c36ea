// Entry point for the cdktf CLI (`cdktf synth|deploy|destroy`, see cdktf.json).
import { createApp } from './app.js';
import { readSynthConfig } from './synth-config.js';

// The only place the CLI path reads the environment: ICP_MODEL_ID and ICP_REGION
// fix the model and region at synth time, because the generate role's Bedrock
// permissions are computed from them here, not by Terraform (see synth-config.ts).
try {
  createApp({ synth: readSynthConfig(process.env) }).synth();
} catch (error) {
  console.error(`Synth failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
