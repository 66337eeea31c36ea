// The test process runs on the machine's Node 20; Lambda runs the functions on Node 22.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
