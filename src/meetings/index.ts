/** Scheduling always-recorded class meetings: parsing requests, the recording policy, Graph. */
export {
  SCHEDULE_EXAMPLE,
  isValidTimeZone,
  parseScheduleCommand,
  type ParseOptions,
  type ParseResult,
  type ParsedSchedule,
} from './parse.js';
export {
  MANDATORY_RECORDING,
  MeetingScheduler,
  recordingOverrides,
  type RecordingOverride,
  type RequestedRecording,
  type ScheduleRequest,
  type ScheduleResult,
  type SchedulerOptions,
} from './scheduler.js';
export { formatWhen, fromWallClock, wallClock } from './time.js';
export { Roles, type Decision, type RoleOptions } from './roles.js';
