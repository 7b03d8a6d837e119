namespace SlmStudio.Core.Models;

/// <summary>
/// Where each parameter of <see cref="LlamaForCausalLM"/> lives in a family's Hugging Face checkpoint. The model uses
/// Llama's names; Phi-3 fuses q/k/v into <c>qkv_proj</c> and gate/up into <c>gate_up_proj</c> (blocks of rows, in that
/// order), and Phi-2 calls o_proj <c>dense</c>, the MLP <c>fc1</c>/<c>fc2</c> and the final norm <c>final_layernorm</c>.
/// Loading and saving both go through <see cref="Locate"/>, so a checkpoint saved here has its family's own layout.
/// </summary>
public static class CheckpointLayout
{
    /// <summary>A parameter's place in the checkpoint: rows [FirstRow, FirstRow + Rows) of tensor <c>TensorName</c>.</summary>
    public sealed record Slot(string TensorName, long FirstRow, long Rows, bool Fused);

    public static Slot Locate(LlamaConfig c, string parameter, long[] shape)
    {
        long rows = shape[0];
        switch (c.Family)
        {
            case ModelFamily.Phi3:
                long q = (long)c.NumHeads * c.HeadDim, kv = (long)c.NumKvHeads * c.HeadDim, ff = c.IntermediateSize;
                if (Replace(parameter, ".self_attn.q_proj.", ".self_attn.qkv_proj.") is { } qName) return new Slot(qName, 0, rows, true);
                if (Replace(parameter, ".self_attn.k_proj.", ".self_attn.qkv_proj.") is { } kName) return new Slot(kName, q, rows, true);
                if (Replace(parameter, ".self_attn.v_proj.", ".self_attn.qkv_proj.") is { } vName) return new Slot(vName, q + kv, rows, true);
                if (Replace(parameter, ".mlp.gate_proj.", ".mlp.gate_up_proj.") is { } gName) return new Slot(gName, 0, rows, true);
                if (Replace(parameter, ".mlp.up_proj.", ".mlp.gate_up_proj.") is { } uName) return new Slot(uName, ff, rows, true);
                break;
            case ModelFamily.Phi:
                var renamed = Replace(parameter, ".self_attn.o_proj.", ".self_attn.dense.")
                    ?? Replace(parameter, ".mlp.up_proj.", ".mlp.fc1.")
                    ?? Replace(parameter, ".mlp.down_proj.", ".mlp.fc2.")
                    ?? (parameter.StartsWith("model.norm.", StringComparison.Ordinal) ? "model.final_layernorm." + parameter["model.norm.".Length..] : null);
                if (renamed is not null) return new Slot(renamed, 0, rows, false);
                break;
        }
        return new Slot(parameter, 0, rows, false);
    }

    private static string? Replace(string name, string part, string replacement) =>
        name.Contains(part, StringComparison.Ordinal) ? name.Replace(part, replacement, StringComparison.Ordinal) : null;

    /// <summary>A checkpoint tensor and the parameters (one, or the blocks of a fused tensor) it fills.</summary>
    public sealed record TensorPlan(string TensorName, long[] Shape, IReadOnlyList<(string Parameter, Slot Slot)> Parts);

    /// <summary>Checkpoint tensors this model needs, in the model's parameter order, with their expected shapes.</summary>
    public static IReadOnlyList<TensorPlan> Plan(LlamaConfig config, IEnumerable<(string Name, long[] Shape)> parameters)
    {
        var byTensor = new Dictionary<string, List<(string, Slot, long[])>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var (name, shape) in parameters)
        {
            var slot = Locate(config, name, shape);
            if (!byTensor.TryGetValue(slot.TensorName, out var parts)) { byTensor[slot.TensorName] = parts = []; order.Add(slot.TensorName); }
            parts.Add((name, slot, shape));
        }
        return order.Select(tensorName =>
        {
            var parts = byTensor[tensorName].OrderBy(p => p.Item2.FirstRow).ToList();
            var shape = (long[])parts[0].Item3.Clone();
            shape[0] = parts.Sum(p => p.Item2.Rows);
            return new TensorPlan(tensorName, shape, parts.Select(p => (p.Item1, p.Item2)).ToList());
        }).ToList();
    }

    /// <summary>
    /// Checkpoint tensors renamed and split into the model's own (Llama) parameter names; unsplit tensors share their
    /// data. Names this model does not use are kept as they are, so callers can still see and refuse them.
    /// </summary>
    public static IReadOnlyDictionary<string, NamedTensor> ToModelNames(LlamaConfig config, IReadOnlyDictionary<string, NamedTensor> checkpoint, IEnumerable<(string Name, long[] Shape)> parameters)
    {
        var result = new Dictionary<string, NamedTensor>(checkpoint, StringComparer.Ordinal);
        foreach (var plan in Plan(config, parameters))
        {
            if (!checkpoint.TryGetValue(plan.TensorName, out var t)) continue;
            result.Remove(plan.TensorName);
            if (plan.Parts.Count == 1 && !plan.Parts[0].Slot.Fused) { result[plan.Parts[0].Parameter] = t with { Name = plan.Parts[0].Parameter }; continue; }
            if (!t.Shape.SequenceEqual(plan.Shape))
                throw new UnsupportedModelException($"Weight '{plan.TensorName}' has shape [{string.Join(", ", t.Shape)}] but config.json implies [{string.Join(", ", plan.Shape)}].");
            long rowSize = t.ElementCount / t.Shape[0];
            foreach (var (parameter, slot) in plan.Parts)
            {
                var shape = (long[])t.Shape.Clone();
                shape[0] = slot.Rows;
                result[parameter] = new NamedTensor(parameter, shape, t.Data.AsSpan((int)(slot.FirstRow * rowSize), (int)(slot.Rows * rowSize)).ToArray());
            }
        }
        return result;
    }

    /// <summary>The parameters (names and shapes) of <see cref="LlamaForCausalLM"/> for <paramref name="c"/>, in its order, without building it.</summary>
    public static IReadOnlyList<(string Name, long[] Shape)> ModelParameters(LlamaConfig c)
    {
        long d = c.HiddenSize, q = (long)c.NumHeads * c.HeadDim, kv = (long)c.NumKvHeads * c.HeadDim, ff = c.IntermediateSize, v = c.VocabSize;
        var list = new List<(string, long[])> { ("model.embed_tokens.weight", [v, d]) };
        void Linear(string name, long outDim, long inDim, bool bias)
        {
            list.Add((name + ".weight", [outDim, inDim]));
            if (bias) list.Add((name + ".bias", [outDim]));
        }
        void Norm(string name)
        {
            list.Add((name + ".weight", [d]));
            if (c.Norm == NormKind.LayerNorm) list.Add((name + ".bias", [d]));
        }
        for (int i = 0; i < c.NumLayers; i++)
        {
            var p = $"model.layers.{i}";
            Norm($"{p}.input_layernorm");
            Linear($"{p}.self_attn.q_proj", q, d, c.QkvBias);
            Linear($"{p}.self_attn.k_proj", kv, d, c.QkvBias);
            Linear($"{p}.self_attn.v_proj", kv, d, c.QkvBias);
            Linear($"{p}.self_attn.o_proj", d, q, c.OutputProjectionBias);
            if (!c.ParallelBlock) Norm($"{p}.post_attention_layernorm");
            if (c.GatedMlp) Linear($"{p}.mlp.gate_proj", ff, d, c.MlpBias);
            Linear($"{p}.mlp.up_proj", ff, d, c.MlpBias);
            Linear($"{p}.mlp.down_proj", d, ff, c.MlpBias);
        }
        Norm("model.norm");
        if (!c.TieWordEmbeddings) Linear("lm_head", v, d, c.LmHeadBias);
        return list;
    }
}
