/** The robots capability's public face: what the rest of the server may use (a lint rule, .dependency-cruiser.cjs, keeps it so). */
export { getRobot } from './queries/getRobot.ts';
export { insertRobot } from './queries/insertRobot.ts';
export { listRobots } from './queries/listRobots.ts';
export { robotColumns, secretIsLive, type RobotProtocol, type RobotRow } from './queries/robotRow.ts';
export { rotateRobotSecret } from './queries/rotateRobotSecret.ts';
export { updateRobot } from './queries/updateRobot.ts';
export { robotRoutes } from './routes.ts';
