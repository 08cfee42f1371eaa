import { z } from "zod";

/** A point on the floor plan (metres) or in an image (pixels). */
export type Point = [number, number];

const coord = z.number().min(-1e6).max(1e6);
export const PointDef = z.tuple([coord, coord]);
