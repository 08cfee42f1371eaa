/**
 * The site of opencv-doc's vtest.avi (an elevated camera over a pedestrian plaza, 768×576): one
 * camera with an approximate image → floor calibration and one space covering the floor. Used by
 * the video demo and the video chain test, so both run the real footage through the same geometry.
 */
import type { TopologyDocIn } from "../contracts/topology.ts";

/** image pixel -> floor metres: 4 pairs (an approximate homography of the plaza, about 11–22 m wide, 15 m deep) */
export const PLAZA_CALIBRATION = {
  image_points: [[0, 576], [768, 576], [768, 90], [0, 90]] as [number, number][],
  floor_points: [[4.5, 0], [15.5, 0], [21, 15], [-1, 15]] as [number, number][],
};

/** the plaza's floor outline (metres), a little larger than what the camera sees */
export const PLAZA_FLOOR = [[-5, -1], [25, -1], [25, 25], [-5, 25]] as [number, number][];

export const PLAZA_SPACE = "plaza";

/** A topology with one vtest camera `camera` (secret `secret`) seeing the plaza. */
export function plazaTopology(camera: string, secret: string): TopologyDocIn {
  return {
    spaces: [{ id: PLAZA_SPACE, name: "Plaza", polygon: PLAZA_FLOOR }],
    doorways: [],
    devices: [{ id: camera, kind: "camera", secret, calibration: PLAZA_CALIBRATION, sees: [PLAZA_SPACE] }],
  };
}
