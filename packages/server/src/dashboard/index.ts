/** The dashboard capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { dashboardRoutes } from './routes.ts';
export { dashboardStatic } from './static.ts';
