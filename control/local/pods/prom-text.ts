/** The Prometheus text parser moved to core/ (the viz service reads proxies' /metrics too). */
export * from '../../../core/prom-text';
