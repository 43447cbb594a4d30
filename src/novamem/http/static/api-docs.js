"use strict";
(function () {
  var METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
  var spec = null;
  var entries = [];

  // Builds an element; children may be strings, nodes, arrays or null. No innerHTML anywhere,
  // so text from the description can never become markup.
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (key) {
        var value = attrs[key];
        if (value === null || value === undefined || value === false) return;
        if (key === "class") el.className = value;
        else if (key === "text") el.textContent = value;
        else el.setAttribute(key, value);
      });
    }
    return append.apply(null, [el].concat(Array.prototype.slice.call(arguments, 2)));
  }

  function append(el) {
    for (var i = 1; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); continue; }
      el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return el;
  }

  // The only markup honoured in descriptions: `code` spans and paragraph breaks.
  function prose(text, tag) {
    var out = h(tag || "p", { "class": "desc" });
    String(text || "").split("`").forEach(function (part, i) {
      append(out, i % 2 ? h("code", { text: part }) : part);
    });
    return out;
  }

  function paragraphs(text) {
    return String(text || "").split(/\n\s*\n/).filter(Boolean).map(function (p) { return prose(p.trim()); });
  }

  function refName(ref) { return ref.split("/").pop(); }

  function resolve(schema) {
    var seen = 0;
    while (schema && schema.$ref && seen++ < 32) {
      var name = refName(schema.$ref);
      schema = ((spec.components || {}).schemas || {})[name];
    }
    return schema || {};
  }

  function isNull(s) { return s && (s.type === "null" || (Array.isArray(s.type) && s.type.length === 1 && s.type[0] === "null")); }

  // Splits `X | null` into X plus a nullable flag; other unions stay as they are.
  function unwrap(schema) {
    schema = schema || {};
    var variants = schema.anyOf || schema.oneOf;
    if (variants) {
      var real = variants.filter(function (v) { return !isNull(v); });
      var nullable = real.length < variants.length;
      if (real.length === 1) {
        var merged = Object.assign({}, real[0]);
        ["description", "default", "title", "examples", "deprecated"].forEach(function (k) {
          if (schema[k] !== undefined && merged[k] === undefined) merged[k] = schema[k];
        });
        return { schema: merged, nullable: nullable };
      }
      return { schema: Object.assign({}, schema, { anyOf: real, oneOf: undefined }), nullable: nullable };
    }
    if (schema.allOf && schema.allOf.length === 1) {
      return { schema: Object.assign({}, schema, schema.allOf[0], { allOf: undefined }), nullable: false };
    }
    if (Array.isArray(schema.type) && schema.type.indexOf("null") >= 0) {
      var types = schema.type.filter(function (t) { return t !== "null"; });
      return { schema: Object.assign({}, schema, { type: types.length === 1 ? types[0] : types }), nullable: true };
    }
    return { schema: schema, nullable: !!schema.nullable };
  }

  function typeNode(schema) {
    var u = unwrap(schema);
    var s = u.schema;
    var node = h("span", null);
    if (s.$ref) {
      var name = refName(s.$ref);
      append(node, h("a", { href: "#schema-" + name, text: name }));
    } else if (s.anyOf) {
      s.anyOf.forEach(function (v, i) { if (i) append(node, " | "); append(node, typeNode(v)); });
    } else if (s.allOf) {
      s.allOf.forEach(function (v, i) { if (i) append(node, " & "); append(node, typeNode(v)); });
    } else if (s.type === "array" || s.items) {
      append(node, "array<", s.items ? typeNode(s.items) : "any", ">");
    } else if (s.const !== undefined) {
      append(node, JSON.stringify(s.const));
    } else if (s.type === "object" || s.properties || s.additionalProperties) {
      var extra = s.additionalProperties;
      if (!s.properties && extra && typeof extra === "object" && Object.keys(extra).length) {
        append(node, "map<string, ", typeNode(extra), ">");
      } else {
        append(node, "object");
      }
    } else if (s.type) {
      append(node, Array.isArray(s.type) ? s.type.join(" | ") : s.type);
      if (s.format) append(node, " (" + s.format + ")");
    } else {
      append(node, "any");
    }
    if (u.nullable) append(node, " | null");
    return node;
  }

  function num(n) { return String(n); }

  function range(lo, hi, loEx, hiEx, what) {
    if (lo === undefined && hi === undefined) return null;
    if (lo !== undefined && hi !== undefined) return num(lo) + (loEx ? " < " : " ≤ ") + what + (hiEx ? " < " : " ≤ ") + num(hi);
    if (lo !== undefined) return what + (loEx ? " > " : " ≥ ") + num(lo);
    return what + (hiEx ? " < " : " ≤ ") + num(hi);
  }

  function limits(s, prefix) {
    var out = [];
    var p = prefix || "";
    var lo = typeof s.exclusiveMinimum === "number" ? s.exclusiveMinimum : s.minimum;
    var hi = typeof s.exclusiveMaximum === "number" ? s.exclusiveMaximum : s.maximum;
    out.push(range(lo, hi, typeof s.exclusiveMinimum === "number", typeof s.exclusiveMaximum === "number", "x"));
    out.push(range(s.minLength, s.maxLength, false, false, "length"));
    out.push(range(s.minItems, s.maxItems, false, false, "items"));
    out.push(range(s.minProperties, s.maxProperties, false, false, "keys"));
    if (s.multipleOf !== undefined) out.push("multiple of " + s.multipleOf);
    if (s.uniqueItems) out.push("unique items");
    if (s.pattern) out.push("pattern " + s.pattern);
    if (s.enum) out.push("one of: " + s.enum.map(function (v) { return JSON.stringify(v); }).join(", "));
    out = out.filter(Boolean).map(function (c) { return p + c; });
    if (s.items) out = out.concat(limits(unwrap(s.items).schema, "each: "));
    return out;
  }

  function constraintsNode(schema) {
    var u = unwrap(schema);
    var chips = limits(u.schema);
    var dflt = schema.default !== undefined ? schema.default : u.schema.default;
    if (dflt !== undefined) chips.push("default: " + JSON.stringify(dflt));
    if (schema.deprecated || u.schema.deprecated) chips.push("deprecated");
    return h("div", { "class": "constraints" }, chips.map(function (c) { return h("span", { "class": "chip", text: c }); }));
  }

  // The object schema a property leads to (directly, through a union or as array items), for nesting.
  function nestedObject(schema) {
    var s = unwrap(schema).schema;
    if (s.type === "array" && s.items) s = unwrap(s.items).schema;
    var name = s.$ref ? refName(s.$ref) : null;
    var target = resolve(s);
    return target.properties ? { name: name, schema: target } : null;
  }

  function propertiesTable(schema, seen, depth) {
    var props = schema.properties || {};
    var required = schema.required || [];
    var rows = Object.keys(props).map(function (key) {
      var prop = props[key];
      var u = unwrap(prop);
      var description = prop.description || u.schema.description;
      var row = h("tr", { "data-field": key },
        h("td", { "class": "name" }, key, required.indexOf(key) >= 0 ? h("span", { "class": "badge required", text: "required" }) : null),
        h("td", { "class": "type" }, typeNode(prop)),
        h("td", { "class": "limits" }, constraintsNode(prop)),
        h("td", null, description ? prose(description, "div") : null));
      var nested = nestedObject(prop);
      if (!nested || depth >= 4 || (nested.name && seen.indexOf(nested.name) >= 0)) return row;
      var more = seen.concat(nested.name ? [nested.name] : []);
      row.className = "has-nested";
      return [row, h("tr", { "class": "nested-row" }, h("td", { colspan: "4" },
        h("details", { "class": "nested" }, h("summary", { text: "Fields of " + key + (nested.name ? " (" + nested.name + ")" : "") }),
          propertiesTable(nested.schema, more, depth + 1))))];
    });
    if (!rows.length) return h("p", { "class": "meta", text: "An object with no declared fields." });
    return h("table", { "class": "fields" },
      h("thead", null, h("tr", null, ["Field", "Type", "Constraints", "Description"].map(function (t) { return h("th", { text: t }); }))),
      h("tbody", null, rows));
  }

  // A schema as a fields table when it is an object, otherwise as its type line.
  function schemaBlock(schema) {
    var u = unwrap(schema);
    var name = u.schema.$ref ? refName(u.schema.$ref) : null;
    var target = resolve(u.schema);
    var wrap = h("div", null);
    if (name) append(wrap, h("p", { "class": "meta" }, "Schema ", h("a", { href: "#schema-" + name, text: name }),
      u.nullable ? " (or null)" : ""));
    if (target.description && name) append(wrap, prose(target.description));
    if (target.properties) append(wrap, propertiesTable(target, name ? [name] : [], 1));
    else if (!name) append(wrap, h("p", { "class": "meta" }, "Type: ", h("code", null, typeNode(schema)), " ", constraintsNode(schema)));
    return wrap;
  }

  function isEmptySchema(s) { return !s || Object.keys(s).length === 0; }

  function exampleValue(schema, depth) {
    var s = unwrap(schema).schema;
    if (s.example !== undefined) return s.example;
    if (s.examples && s.examples.length) return s.examples[0];
    if (s.default !== undefined && s.default !== null) return s.default;
    if (s.enum && s.enum.length) return s.enum[0];
    var target = resolve(s);
    if (target.properties && depth < 4) {
      var out = {};
      (target.required || []).forEach(function (k) { out[k] = exampleValue(target.properties[k] || {}, depth + 1); });
      return out;
    }
    switch (target.type) {
      case "integer": return target.minimum !== undefined ? target.minimum : 1;
      case "number": return target.minimum !== undefined ? target.minimum : 0.5;
      case "boolean": return true;
      case "array": return target.items ? [exampleValue(target.items, depth + 1)] : [];
      case "object": return {};
      default: return "string";
    }
  }

  function curlExample(method, path, jsonSchema) {
    var label = jsonSchema ? "Example request (required fields only)" : "Example request";
    var lines = ["curl -X " + method.toUpperCase() + " '" + location.origin + path + "'"];
    if (jsonSchema) {
      lines.push("  -H 'content-type: application/json'");
      lines.push("  -d '" + JSON.stringify(exampleValue(jsonSchema, 0)).replace(/'/g, "'\\''") + "'");
    }
    return h("details", null, h("summary", { text: label }),
      h("pre", null, h("code", { text: lines.join(" \\\n") })));
  }

  function parametersSection(params) {
    if (!params.length) return null;
    return [h("h4", { text: "Parameters" }), h("table", null,
      h("thead", null, h("tr", null, ["Name", "In", "Type", "Constraints", "Description"].map(function (t) { return h("th", { text: t }); }))),
      h("tbody", null, params.map(function (p) {
        p = p.$ref ? resolve(p) : p;
        var schema = p.schema || {};
        return h("tr", { "data-field": p.name },
          h("td", { "class": "name" }, p.name, p.required ? h("span", { "class": "badge required", text: "required" }) : null),
          h("td", { text: p["in"] }),
          h("td", { "class": "type" }, typeNode(schema)),
          h("td", null, constraintsNode(schema)),
          h("td", null, p.description || schema.description ? prose(p.description || schema.description, "div") : null));
      })))];
  }

  function jsonSchemaOf(content) {
    if (!content) return null;
    var type = Object.keys(content).filter(function (t) { return /json/.test(t); })[0] || Object.keys(content)[0];
    return type ? { type: type, schema: content[type].schema || {} } : null;
  }

  function requestSection(body) {
    if (!body) return null;
    body = body.$ref ? resolve(body) : body;
    var media = jsonSchemaOf(body.content);
    if (!media) return null;
    return [h("h4", null, "Request body",
        body.required ? h("span", { "class": "badge required", text: "required" }) : h("span", { "class": "badge", text: "optional" })),
      h("p", { "class": "meta" }, h("code", { text: media.type })),
      body.description ? prose(body.description) : null,
      schemaBlock(media.schema)];
  }

  function responsesSection(responses) {
    var codes = Object.keys(responses || {});
    if (!codes.length) return null;
    return [h("h4", { text: "Responses" }), codes.map(function (code) {
      var r = responses[code].$ref ? resolve(responses[code]) : responses[code];
      var media = jsonSchemaOf(r.content);
      var body = h("div", { "class": "body" }, prose(r.description || "", "span"));
      if (media && !isEmptySchema(media.schema)) {
        var target = resolve(unwrap(media.schema).schema);
        if (target.properties) {
          append(body, h("details", { "class": "nested" }, h("summary", null, "body: ", typeNode(media.schema)),
            schemaBlock(media.schema)));
        } else {
          append(body, " ", h("span", { "class": "meta" }, "→ ", h("code", null, typeNode(media.schema))));
        }
      }
      return h("div", { "class": "response" }, h("span", { "class": "status s" + code.charAt(0), text: code }), body);
    })];
  }

  function fieldNames(op) {
    var names = (op.parameters || []).map(function (p) { return p.name || ""; });
    var media = op.requestBody && jsonSchemaOf((op.requestBody.$ref ? resolve(op.requestBody) : op.requestBody).content);
    if (media) names = names.concat(Object.keys(resolve(unwrap(media.schema).schema).properties || {}));
    return names;
  }

  function opId(method, path) { return "op-" + method + "-" + path.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, ""); }

  function operationCard(entry) {
    var op = entry.op;
    var media = op.requestBody && jsonSchemaOf((op.requestBody.$ref ? resolve(op.requestBody) : op.requestBody).content);
    var card = h("section", { "class": "op" + (op.deprecated ? " deprecated" : ""), id: entry.id,
        "data-method": entry.method, "data-path": entry.path },
      h("div", { "class": "op-head" },
        h("span", { "class": "method " + entry.method, text: entry.method }),
        h("span", { "class": "path", text: entry.path }),
        op.summary ? h("span", { "class": "summary", text: op.summary }) : null,
        op.deprecated ? h("span", { "class": "badge", text: "deprecated" }) : null,
        h("a", { "class": "anchor", href: "#" + entry.id, title: "Link to this operation", text: "#" })),
      paragraphs(op.description),
      (op.security || spec.security || []).length ? h("p", { "class": "meta" },
        "Auth: " + (op.security || spec.security).map(function (req) { return Object.keys(req).join(" + ") || "none"; }).join(" or ")) : null,
      parametersSection((entry.pathParams || []).concat(op.parameters || [])),
      requestSection(op.requestBody),
      responsesSection(op.responses),
      curlExample(entry.method, entry.path, media ? media.schema : null));
    return card;
  }

  function schemaCard(name, schema) {
    var card = h("section", { "class": "schema-card", id: "schema-" + name, "data-schema": name },
      h("h3", { text: name }), schema.description ? prose(schema.description) : null);
    if (schema.properties) append(card, propertiesTable(schema, [name], 1));
    else append(card, h("p", { "class": "meta" }, "Type: ", h("code", null, typeNode(schema)), " ", constraintsNode(schema)));
    card.dataset.haystack = (name + " " + Object.keys(schema.properties || {}).join(" ") + " " + (schema.description || "")).toLowerCase();
    return card;
  }

  function render() {
    var info = spec.info || {};
    document.title = (info.title || "API") + " — API reference";
    document.getElementById("brand").textContent = info.title || "API reference";
    document.getElementById("version").textContent = (info.version ? "v" + info.version + " · " : "") + "OpenAPI " + (spec.openapi || "");
    var main = document.getElementById("main");
    main.textContent = "";
    append(main, h("header", { "class": "intro" }, h("h1", { text: (info.title || "API") + " API reference" }),
      paragraphs(info.description)));

    var groups = {};
    var order = (spec.tags || []).map(function (t) { return t.name; });
    Object.keys(spec.paths || {}).forEach(function (path) {
      var item = spec.paths[path];
      METHODS.forEach(function (method) {
        var op = item[method];
        if (!op) return;
        var tag = (op.tags && op.tags[0]) || "other";
        if (order.indexOf(tag) < 0) order.push(tag);
        var entry = { method: method, path: path, op: op, id: opId(method, path), pathParams: item.parameters, tag: tag };
        entry.haystack = [method, path, op.summary, op.description, op.operationId, (op.tags || []).join(" ")]
          .concat(fieldNames(op)).join(" ").toLowerCase();
        (groups[tag] = groups[tag] || []).push(entry);
        entries.push(entry);
      });
    });

    var toc = document.getElementById("toc");
    toc.textContent = "";
    order.forEach(function (tag) {
      if (!groups[tag]) return;
      var tagInfo = (spec.tags || []).filter(function (t) { return t.name === tag; })[0] || {};
      var section = h("div", { "class": "tag", "data-tag": tag },
        h("h2", { "class": "tag-title", id: "tag-" + tag, text: tag }),
        tagInfo.description ? prose(tagInfo.description) : null);
      var list = h("ul", null);
      var navGroup = h("div", { "data-tag": tag }, h("h3", { text: tag }), list);
      groups[tag].forEach(function (entry) {
        entry.card = operationCard(entry);
        entry.link = h("li", null, h("a", { href: "#" + entry.id, title: entry.op.summary || entry.path },
          h("span", { "class": "method " + entry.method, text: entry.method }), h("span", { "class": "p", text: entry.path })));
        append(section, entry.card);
        append(list, entry.link);
      });
      append(main, section);
      append(toc, navGroup);
    });

    var schemas = (spec.components || {}).schemas || {};
    var names = Object.keys(schemas).sort();
    if (names.length) {
      var schemaSection = h("div", { id: "schemas" }, h("h2", { "class": "tag-title", text: "Schemas" }),
        names.map(function (name) { return schemaCard(name, schemas[name]); }));
      append(main, schemaSection);
      append(toc, h("div", { id: "toc-schemas" }, h("h3", { text: "Schemas" }),
        h("ul", null, names.map(function (name) {
          return h("li", { "data-schema": name }, h("a", { href: "#schema-" + name }, h("span", { "class": "p", text: name })));
        }))));
    }
    append(main, h("p", { "class": "empty hidden", id: "no-match", text: "Nothing matches the filter." }));
    applyFilter();
    if (location.hash) {
      var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) target.scrollIntoView();
    }
  }

  function applyFilter() {
    var words = document.getElementById("filter").value.toLowerCase().split(/\s+/).filter(Boolean);
    function matches(text) { return words.every(function (w) { return text.indexOf(w) >= 0; }); }
    var shown = 0;
    var tagsShown = {};
    entries.forEach(function (entry) {
      var ok = matches(entry.haystack);
      entry.card.classList.toggle("hidden", !ok);
      entry.link.classList.toggle("hidden", !ok);
      if (ok) { shown++; tagsShown[entry.tag] = true; }
    });
    document.querySelectorAll("[data-tag]").forEach(function (el) {
      el.classList.toggle("hidden", !tagsShown[el.getAttribute("data-tag")]);
    });
    var schemasShown = 0;
    document.querySelectorAll(".schema-card").forEach(function (card) {
      var ok = matches(card.dataset.haystack);
      card.classList.toggle("hidden", !ok);
      var link = document.querySelector('#toc-schemas li[data-schema="' + card.getAttribute("data-schema") + '"]');
      if (link) link.classList.toggle("hidden", !ok);
      if (ok) schemasShown++;
    });
    ["schemas", "toc-schemas"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el) el.classList.toggle("hidden", !schemasShown);
    });
    document.getElementById("no-match").classList.toggle("hidden", shown + schemasShown > 0);
    document.getElementById("count").textContent = words.length
      ? shown + " of " + entries.length + " operations match"
      : entries.length + " operations";
  }

  function fail(message) {
    var main = document.getElementById("main");
    main.textContent = "";
    append(main, h("p", { "class": "failure", text: message }));
  }

  var filter = document.getElementById("filter");
  filter.addEventListener("input", function () {
    if (!spec) return;
    applyFilter();
    document.getElementById("main").scrollIntoView();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "/" && document.activeElement !== filter) { event.preventDefault(); filter.focus(); }
    else if (event.key === "Escape" && document.activeElement === filter) { filter.value = ""; applyFilter(); }
  });

  fetch("/openapi.json", { credentials: "same-origin", headers: { accept: "application/json" } })
    .then(function (response) {
      if (!response.ok) throw new Error("GET /openapi.json answered " + response.status);
      return response.json();
    })
    .then(function (data) { spec = data; render(); })
    .catch(function (error) { fail("Could not load the API description: " + error.message); });
})();
