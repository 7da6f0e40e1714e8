/**
 * The life of a plugin instance in a node:
 *
 *   create(ctx, options)   options already checked against the plugin's optionsSchema, defaults
 *                          filled in; a throw stops the node's start-up with a message naming
 *                          the plugin, its source file and the problem.
 *   start()                optional; once every plugin is created and before the node serves.
 *                          A throw stops start-up too (the instances already made are stopped).
 *   health()               optional; read by SHOW PLUGINS and the admin API. Must be cheap
 *                          (no I/O): report what the instance already knows.
 *   stop() / close()       once, when the node stops (a storage engine's is `close`); called
 *                          even when start-up failed after create.
 *
 * At run time every throw from a plugin is counted per plugin and operation (SHOW PLUGINS,
 * the admin API, metric slipstream_plugin_errors_total) and reaches callers as a DbError naming
 * the plugin and the operation; the node keeps serving where it can.
 */
export interface PluginHealth {
  /** False when the instance cannot serve (e.g. a disk is full or gone). */
  readonly ok: boolean;
  /** A short human-readable state, e.g. 'map 45 % used'. */
  readonly detail?: string;
}

/** The optional hooks every plugin instance may have. */
export interface PluginLifecycle {
  start?(): void | Promise<void>;
  health?(): PluginHealth;
}
