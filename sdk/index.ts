export * from "./builder";
export * from "./multiArchImage";
export * from "./plan";
export * from "./platform";
export * from "./preflight";
export * from "./registry";
