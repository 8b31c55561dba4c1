# Prints the reference figures pasted into test/unit/grid/*.test.ts, computed by the real
# MapProxy 1.15 (Debian python3-mapproxy). Run: /usr/bin/python3 test/unit/grid/mapproxy_reference.py
import warnings
warnings.simplefilter('ignore')
from mapproxy.grid import tile_grid, MetaGrid, resolutions, aligned_resolutions
from mapproxy.srs import SRS

def show(label, value):
    print(label, '=', repr(value))

geo = tile_grid(srs='EPSG:4326', origin='sw', name='GLOBAL_GEODETIC')
merc = tile_grid(srs='EPSG:900913', origin='sw', name='GLOBAL_MERCATOR')
web = tile_grid(srs='EPSG:3857', origin='nw', name='GLOBAL_WEBMERCATOR')

for g in (geo, merc, web):
    show(g.name + ' res', list(g.resolutions))
    show(g.name + ' grid_sizes 0..3,19', [g.grid_sizes[i] for i in (0, 1, 2, 3, 19)])
    show(g.name + ' nw ok', g.supports_access_with_origin('nw'))
    show(g.name + ' sw ok', g.supports_access_with_origin('sw'))
show('geo tile_bbox 0,0,0', geo.tile_bbox((0, 0, 0)))
show('geo tile_bbox 1,0,1', geo.tile_bbox((1, 0, 1)))
show('merc tile_bbox 1,2,3', merc.tile_bbox((1, 2, 3)))
show('web tile_bbox 1,2,3', web.tile_bbox((1, 2, 3)))
show('web tile_bbox 170,211,9', web.tile_bbox((170, 211, 9)))
show('merc tile 1000,1000,1', merc.tile(1000, 1000, 1))
show('web tile 1000,1000,1', web.tile(1000, 1000, 1))
show('web tile -1000,-1000,2', web.tile(-1000, -1000, 2))

# resolution rules
show('res 1000->10 6 levels', resolutions(min_res=1000, max_res=10, num_levels=6, bbox=(0, 0, 1, 1)))
show('res min 0.01 max 0.0025', resolutions(min_res=0.01, max_res=0.0025, bbox=(0, 0, 1, 1)))
show('res min 1000 max 100', resolutions(min_res=1000, max_res=100, bbox=(0, 0, 1, 1)))
g = tile_grid(srs='EPSG:25832', bbox=(0, 0, 1000000, 500000), res_factor='sqrt2')
show('sqrt2 25832 levels', g.levels)
show('sqrt2 25832 res[0:4],res[39]', list(g.resolutions)[0:4] + [g.resolutions[39]])
show('sqrt2 25832 grid_sizes 0..2', [g.grid_sizes[i] for i in range(3)])
g = tile_grid(srs='EPSG:25832', bbox=(0, 0, 1000000, 500000), res_factor=3, num_levels=5)
show('factor 3 res', list(g.resolutions))
g = tile_grid(srs='EPSG:25832', bbox=(0, 0, 1000000, 500000), tile_size=(512, 512), num_levels=3)
show('tile 512 res', list(g.resolutions))
g = tile_grid(srs='EPSG:25832', bbox='280000,5200000,920000,6100000', res=[10, 1000, 100])
show('res list sorted', list(g.resolutions))
show('res list grid_sizes', list(g.grid_sizes))
show('align sqrt2 with merc', aligned_resolutions(min_res=10000, max_res=1000, res_factor='sqrt2', bbox=merc.bbox, align_with=merc))
sq = tile_grid(srs='EPSG:3857', res_factor='sqrt2')
show('align 2 with sqrt2 grid', aligned_resolutions(min_res=None, max_res=None, res_factor=2.0, num_levels=8, bbox=merc.bbox, align_with=sq))
show('align 3 with merc', aligned_resolutions(min_res=50000, max_res=1000, res_factor=3, bbox=merc.bbox, align_with=merc))
g = tile_grid(srs='EPSG:3857', bbox=(5, 50, 10, 55), bbox_srs='EPSG:4326')
show('bbox_srs grid bbox', g.bbox)
show('bbox_srs grid res0', g.resolutions[0])
show('bbox_srs grid sizes 0..2', [g.grid_sizes[i] for i in range(3)])

# floor division quirk: 1 // 0.1 == 9
g = tile_grid(srs='EPSG:25832', bbox=(0, 0, 1, 1), res=[0.1], tile_size=(1, 1))
show('floordiv grid size', list(g.grid_sizes))

# affected tiles
def aff(grid, bbox, size):
    b, gs, tiles = grid.get_affected_tiles(bbox, size)
    return (b, gs, list(tiles))
show('merc affected', aff(merc, (-20037508.342789244, -20037508.342789244, 0, 0), (512, 512)))
show('web affected', aff(web, (-20037508.342789244, -20037508.342789244, 0, 0), (512, 512)))
show('web affected level3', aff(web, (-1000000, -1000000, 1000000, 1000000), (300, 300)))
show('merc affected level3', aff(merc, (-1000000, -1000000, 1000000, 1000000), (300, 300)))
show('geo affected with none', aff(geo, (-180, -90, 180, 90), (256, 256)))
b, gs, tiles = web.get_affected_level_tiles((-30000000, 15000000, -15000000, 30000000), 2)
show('web level tiles outside', (b, gs, list(tiles)))

# closest level
g = tile_grid(srs='EPSG:25832', bbox=(0, 0, 10000, 10000), res=[10, 5])
show('closest 10/5', [g.closest_level(r) for r in (12, 10, 9, 8, 5, 4, 2)])
show('web closest 136000', web.closest_level(136000))
show('web closest list', [web.closest_level(r) for r in (400000, 160000, 156543.03392804097, 136000, 136100, 78271.51696402048, 70000, 0.1)])
g = tile_grid(srs='EPSG:25832', bbox=(0, 0, 100000, 100000), res=[100, 50, 25, 10, 5], threshold_res=[30, 12])
show('threshold levels', [g.closest_level(r) for r in (110, 100, 60, 50, 40, 31, 30, 29, 25, 20, 13, 12, 11, 10, 9, 5.5, 1)])
g = tile_grid(srs='EPSG:25832', bbox=(0, 0, 100000, 100000), res=[100, 50, 25, 10, 5], threshold_res=[500, 30, 12])
show('threshold above first', [g.closest_level(r) for r in (110, 60, 31, 29)])

# origins and nw test
g = tile_grid(srs='EPSG:25832', bbox=(0, 0, 1000, 700), res=[1, 0.5], tile_size=(256, 256), origin='sw')
show('local 1000x700 grid sizes', list(g.grid_sizes))
show('local 1000x700 nw ok', g.supports_access_with_origin('nw'))
g2 = tile_grid(srs='EPSG:25832', bbox=(0, 0, 1024, 512), res=[2, 1], origin='sw')
show('local 1024x512 nw ok', g2.supports_access_with_origin('nw'))
show('flip merc 0,1,1 / 1,3,2', (merc.flip_tile_coord((0, 1, 1)), merc.flip_tile_coord((1, 3, 2))))
show('web origin tile ul/ll level 2', (web.origin_tile(2, 'ul'), web.origin_tile(2, 'll')))
show('merc limit', [merc.limit_tile(t) for t in ((-1, 0, 2), (1, 2, 1), (1, 2, 2), (0, 0, 20))])

# subsets
sub = tile_grid(srs='EPSG:3857', bbox=(0, 0, 20037508.342789244, 20037508.342789244), min_res=web.resolutions[3], num_levels=5, origin='nw')
show('subset web', sub.is_subset_of(web))
show('web subset sub', web.is_subset_of(sub))
show('subset merc', sub.is_subset_of(merc))
show('geo subset web', geo.is_subset_of(web))
off = tile_grid(srs='EPSG:3857', bbox=(1000, 0, 20037508.342789244, 20037508.342789244), min_res=web.resolutions[3], num_levels=5)
show('offset subset web', off.is_subset_of(web))

# meta tiles
mg = MetaGrid(web, meta_size=(4, 4), meta_buffer=80)
def meta(m, coord):
    t = m.meta_tile(coord)
    return (t.bbox, t.size, t.grid_size, t.main_tile_coord, t.tile_patterns)
show('web meta z4 (5,5,4)', meta(mg, (5, 5, 4)))
show('web meta z3 (0,0,3)', meta(mg, (0, 0, 3)))
show('web meta z1 (1,1,1)', meta(mg, (1, 1, 1)))
show('web meta 170,211,9', meta(mg, (170, 211, 9)))
mgm = MetaGrid(merc, meta_size=(4, 4), meta_buffer=80)
show('merc meta z4 (5,5,4)', meta(mgm, (5, 5, 4)))
show('merc meta z3 (7,7,3)', meta(mgm, (7, 7, 3)))
mgg = MetaGrid(geo, meta_size=(4, 4), meta_buffer=80)
show('geo meta z0', meta(mgg, (0, 0, 0)))
show('geo meta z2 (7,3,2)', meta(mgg, (7, 3, 2)))
mg0 = MetaGrid(web, meta_size=(2, 2), meta_buffer=0)
show('web meta nobuf (3,3,3)', meta(mg0, (3, 3, 3)))
mg10 = MetaGrid(merc, meta_size=(4, 4), meta_buffer=10)
show('merc meta buf10 (0,0,5)', meta(mg10, (0, 0, 5)))
def minimal(m, tiles):
    t = m.minimal_meta_tile(list(tiles))
    return (t.bbox, t.size, t.grid_size, t.main_tile_coord, t.tile_patterns)
show('web minimal', minimal(mg, [(5, 6, 4), (6, 6, 4), (5, 7, 4)]))
show('merc minimal', minimal(mgm, [(5, 6, 4), (6, 6, 4), (5, 7, 4)]))
show('web minimal corner', minimal(mg, [(0, 0, 3), (1, 0, 3)]))
b, gs, tiles = mg.get_affected_level_tiles((-1000000, -1000000, 1000000, 1000000), 5)
show('web meta affected', (b, gs, list(tiles)))
b, gs, tiles = mgm.get_affected_level_tiles((-1000000, -1000000, 1000000, 1000000), 5)
show('merc meta affected', (b, gs, list(tiles)))

# transformations
s4326, s3857 = SRS(4326), SRS(3857)
show('4326->3857 pts', list(s4326.transform_to(s3857, [(8.22, 53.15), (-180, 0), (180, 85.0511287798066)])))
show('3857->4326 pts', list(s3857.transform_to(s4326, [(915046.2143207088, 7010792.201710816), (-20037508.342789244, 0)])))
show('bbox 4326->3857 world', s4326.transform_bbox_to(s3857, (-180, -90, 180, 90)))
show('bbox 4326->3857 small', s4326.transform_bbox_to(s3857, (8.2, 53.1, 8.3, 53.2)))
show('bbox 4326->3857 85.055', s4326.transform_bbox_to(s3857, (-10, 40, 10, 85.055)))
show('bbox 4326->900913 lower', s4326.transform_bbox_to(SRS(900913), (-180, -85.06, 0, 0)))
show('bbox 3857->4326 world', s3857.transform_bbox_to(s4326, (-20037508.342789244, -20037508.342789244, 20037508.342789244, 20037508.342789244)))
show('bbox 4326->25832', s4326.transform_bbox_to(SRS(25832), (6, 47, 15, 55)))
show('bbox 25832->4326', SRS(25832).transform_bbox_to(s4326, (280000, 5200000, 920000, 6100000)))
show('bbox 4326->25832 4pts', s4326.transform_bbox_to(SRS(25832), (6, 47, 15, 55), with_points=4))
for c, p in ((31467, (9.5, 50.5)), (28992, (5.1, 52.1)), (2056, (7.4, 46.9)), (21781, (7.4, 46.9)), (27700, (-1.5, 52.0)),
             (3035, (10, 52)), (2154, (2.35, 48.85)), (3067, (25, 61)), (32633, (15, 52)), (32733, (15, -30)), (4258, (10, 50))):
    show('pt 4326->%d' % c, list(s4326.transform_to(SRS(c), [p])))
show('axis ne', [(c, SRS(c).is_axis_order_ne) for c in ('EPSG:4326', 'CRS:84', 'EPSG:4258', 'EPSG:3857', 'EPSG:900913', 'EPSG:31466', 'EPSG:31468', 'EPSG:31469', 'EPSG:25832', 'EPSG:3035', 'EPSG:2056', 'EPSG:21781', 'EPSG:27700', 'EPSG:28992', 'EPSG:3067', 'EPSG:2154', 'EPSG:32632', 'EPSG:32760')])
show('latlong', [(c, SRS(c).is_latlong) for c in ('EPSG:4326', 'CRS:84', 'EPSG:4258', 'EPSG:3857', 'EPSG:25832')])
show('eq', (SRS(3857) == SRS(900913), SRS(3857) == SRS('EPSG:102100'), SRS(4326) == SRS('CRS:84'), SRS(4326) == SRS(4258)))

# scales (1.15's WMTS expression and repr)
from mapproxy.service.wmts import TileMatrixSet
show('wmts web scale_denoms', [str(m.scale_denom) for m in TileMatrixSet(web)])
show('wmts geo scale_denoms', [str(m.scale_denom) for m in TileMatrixSet(tile_grid(srs='EPSG:4326', origin='nw'))][:4])
show('units per pixel', [str(r) for r in web.resolutions])
show('geo units per pixel', [str(r) for r in geo.resolutions])
show('repr misc', [repr(x) for x in (1e16, 1234567890123456.0, 0.0001, 0.00001, 5.0, -0.5, 1e22, 123e-20, 2.5e-7)])
show('round12 misc', [round(x, 12) for x in (0.1 + 0.2, 1 / 8192, 3 / 8192, 2.675, -1 / 8192, 1e-13)])
show('round misc', [round(x) for x in (0.5, 1.5, 2.5, -0.5, -1.5, 1183.9999999, 1104.5)])
show('floordiv misc', [1 // 0.1, 40075016.68557849 // 156543.03392804097, 7 // 2.0, -7 // 2.0, 0.3 // 0.1])
