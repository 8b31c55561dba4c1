/**
 * Service metadata from the YAML (`services.<svc>.md`): MapProxy copies `services.wms.md` and
 * overlays the service's own `md` key by key, and prints every value as text. This module does
 * that merge once, at start-up, into the typed `ServiceMetadata` the services render.
 */
import type { KeywordList, ServiceContact, ServiceMetadata } from './types.js';

type Dict = Record<string, unknown>;

const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);

function text(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : String(v);
}

function contactFrom(v: unknown): ServiceContact | undefined {
  if (!isDict(v)) return undefined;
  return {
    person: text(v.person),
    position: text(v.position),
    organization: text(v.organization),
    address: text(v.address),
    city: text(v.city),
    postcode: text(v.postcode),
    state: text(v.state),
    country: text(v.country),
    phone: text(v.phone),
    fax: text(v.fax),
    email: text(v.email),
  };
}

function keywordListFrom(v: unknown): KeywordList[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const lists: KeywordList[] = [];
  for (const entry of v) {
    if (!isDict(entry)) continue;
    const keywords = Array.isArray(entry.keywords) ? entry.keywords.map((k) => String(k)) : [];
    lists.push({ vocabulary: text(entry.vocabulary), keywords });
  }
  return lists;
}

/**
 * Merge raw `md` dicts (later ones win per top-level key, like MapProxy's `dict.update`) and
 * type the result: `toServiceMetadata(wmsMd, tmsMd)`.
 */
export function toServiceMetadata(...mds: ReadonlyArray<unknown>): ServiceMetadata {
  const merged: Dict = {};
  for (const md of mds) if (isDict(md)) Object.assign(merged, md);
  return {
    title: text(merged.title),
    abstract: text(merged.abstract),
    onlineResource: text(merged.online_resource),
    fees: text(merged.fees),
    accessConstraints: text(merged.access_constraints),
    keywordList: keywordListFrom(merged.keyword_list),
    contact: contactFrom(merged.contact),
  };
}
