import { LambdaLayerVersion } from '@cdktf/provider-aws/lib/lambda-layer-version/index.js';
import { AssetType, TerraformAsset } from 'cdktf';
import { Construct } from 'constructs';
import { directoryHash } from '../content-hash.js';

export interface NodeLayerProps {
  /** Layer name; each content change publishes a new version under it. */
  readonly layerName: string;
  /** Absolute path of the directory zipped as the layer; Node modules go under `nodejs/node_modules/`. */
  readonly contentDir: string;
  /**
   * One-line description shown in the console.
   * @default - none
   */
  readonly description?: string;
  /**
   * @default ['nodejs22.x']
   */
  readonly compatibleRuntimes?: readonly string[];
  /**
   * Native modules in the layer are built for exactly one architecture.
   * @default ['arm64']
   */
  readonly compatibleArchitectures?: readonly string[];
}

/**
 * A Lambda layer version made from a local directory. The construct id becomes
 * the logical id (`aws_lambda_layer_version.<id>`).
 */
export class NodeLayer extends Construct {
  readonly layer: LambdaLayerVersion;

  constructor(scope: Construct, id: string, props: NodeLayerProps) {
    super(scope, id);
    const compatibleRuntimes = props.compatibleRuntimes ?? ['nodejs22.x'];
    const compatibleArchitectures = props.compatibleArchitectures ?? ['arm64'];

    const content = new TerraformAsset(this, 'content', {
      path: props.contentDir,
      type: AssetType.ARCHIVE,
      assetHash: directoryHash(props.contentDir),
    });

    this.layer = new LambdaLayerVersion(this, 'layer', {
      layerName: props.layerName,
      description: props.description,
      filename: content.path,
      // Changes exactly when the directory's content does, so an unchanged layer is not republished.
      sourceCodeHash: content.assetHash,
      compatibleRuntimes: [...compatibleRuntimes],
      compatibleArchitectures: [...compatibleArchitectures],
    });
    this.layer.overrideLogicalId(id);
  }
}
