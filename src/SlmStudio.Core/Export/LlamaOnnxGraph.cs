using Onnx;
using SlmStudio.Core.Export.Quantization;
using SlmStudio.Core.Models;
using static SlmStudio.Core.Export.OnnxGraphBuilder;

namespace SlmStudio.Core.Export;

/// <summary>
/// Builds the ONNX decoder graph of a Llama-family model (Hugging Face <c>LlamaForCausalLM</c> semantics, plus the
/// options of <see cref="LlamaConfig"/> that Qwen2, Mistral, Phi-3 and Phi-2 need) with a KV cache,
/// in the input/output layout onnxruntime-genai expects:
/// <c>input_ids, attention_mask, position_ids, past_key_values.{i}.key|value -> logits, present.{i}.key|value</c>,
/// KV shape [batch, kv_heads, seq, head_dim], dynamic batch and sequence axes.
/// Only standard ai.onnx operators of <see cref="Opset"/> are used, so any ONNX runtime can load the file.
/// </summary>
public static class LlamaOnnxGraph
{
    /// <summary>
    /// Opset 17: every operator used here exists in it with its current semantics (Unsqueeze/Slice/Split take their
    /// axes as inputs since 13, Softmax is single-axis since 13, LessOrEqual since 12), and it is the newest opset that
    /// ONNX Runtime (since 1.14), onnxruntime-genai, ONNX Runtime Web, TensorRT 8.6+ and OpenVINO all run, while 18
    /// changed the Reduce* operators' signature which some runtimes still lack.
    /// </summary>
    public const int Opset = 17;

    /// <summary>ONNX IR version that goes with opset 17.</summary>
    public const int IrVersion = 8;

    /// <summary>
    /// Builds the model. Float weights are HF tensors by name (as <see cref="SafetensorsFile.Read"/> or
    /// <see cref="ModelFolder.ReadWeights"/> return them), in the family's own layout or already under our Llama names.
    /// With a quantising <paramref name="quantization"/>, every linear layer (and, if chosen, the final projection)
    /// becomes ONNX Runtime's <c>com.microsoft.MatMulNBits</c> over block-quantised weights; everything else is unchanged.
    /// </summary>
    public static ModelProto Build(LlamaConfig config, IReadOnlyDictionary<string, NamedTensor> weights, string producerVersion = "1", QuantizationOptions? quantization = null)
    {
        quantization ??= QuantizationOptions.Fp32;
        config.Validate();
        weights = CheckpointLayout.ToModelNames(config, weights, CheckpointLayout.ModelParameters(config));
        int d = config.HiddenSize, h = config.NumHeads, kv = config.NumKvHeads, hd = config.HeadDim, v = config.VocabSize;
        int ff = config.IntermediateSize, rep = h / kv;
        var g = new OnnxGraphBuilder("slm_llama_decoder");

        // Shape -1: any size (checked elsewhere).
        NamedTensor W(string name, params long[] shape)
        {
            if (!weights.TryGetValue(name, out var t))
                throw new InvalidModelFileException($"The weights file has no tensor '{name}', which this model configuration needs; the file does not belong to this config.json.");
            if (t.Shape.Length != shape.Length || t.Shape.Zip(shape).Any(s => s.Second >= 0 && s.First != s.Second))
                throw new InvalidModelFileException($"Tensor '{name}' has shape [{string.Join(", ", t.Shape)}] but config.json implies [{string.Join(", ", shape)}]; the weights do not match the configuration.");
            return t;
        }

        // Inputs and outputs (names and axes as onnxruntime-genai's llama decoder expects).
        g.Input("input_ids", OnnxType.Int64, "batch_size", "sequence_length");
        g.Input("attention_mask", OnnxType.Int64, "batch_size", "total_sequence_length");
        g.Input("position_ids", OnnxType.Int64, "batch_size", "sequence_length");
        for (int i = 0; i < config.NumLayers; i++)
        {
            g.Input($"past_key_values.{i}.key", OnnxType.Float, "batch_size", kv, "past_sequence_length", hd);
            g.Input($"past_key_values.{i}.value", OnnxType.Float, "batch_size", kv, "past_sequence_length", hd);
        }
        g.Output("logits", OnnxType.Float, "batch_size", "sequence_length", v);
        for (int i = 0; i < config.NumLayers; i++)
        {
            g.Output($"present.{i}.key", OnnxType.Float, "batch_size", kv, "total_sequence_length", hd);
            g.Output($"present.{i}.value", OnnxType.Float, "batch_size", kv, "total_sequence_length", hd);
        }

        // Shared constants.
        var axis1 = g.Int64Tensor("axes_1", 1);
        var axis2 = g.Int64Tensor("axes_2", 2);
        var axes12 = g.Int64Tensor("axes_1_2", 1, 2);
        var zero = g.Int64Scalar("zero", 0);
        var one = g.Int64Scalar("one", 1);
        var qkvShape = g.Int64Tensor("qkv_shape", 0, 0, h + 2 * kv, hd);  // [B, T, (H+2KV)*hd] -> [B, T, H+2KV, hd]
        var qkvSplit = g.Int64Tensor("qkv_split", h + kv, kv);            // rotary part (q and k) | v
        var qkSplit = g.Int64Tensor("qk_split", h, kv);
        var qGroupShape = g.Int64Tensor("q_group_shape", 0, kv, -1, hd);  // [B, H, T, hd] -> [B, KV, rep*T, hd]
        var ctxShape4 = g.Int64Tensor("ctx_shape_4d", 0, h, -1, hd);      // [B, KV, rep*T, hd] -> [B, H, T, hd]
        var flatShape = g.Int64Tensor("flat_shape", 0, 0, h * hd);
        var mlpSplit = g.Int64Tensor("gate_up_split", ff, ff);
        var eps = g.FloatScalar("rms_eps", (float)config.RmsNormEps);
        var half = g.FloatScalar("half", 0.5f);
        var oneF = g.FloatScalar("one_float", 1f);
        var two = g.FloatScalar("two", 2f);
        var scale = g.FloatScalar("attn_scale", (float)(1.0 / Math.Sqrt(hd)));
        var maskedValue = g.FloatScalar("masked_score", float.MinValue);

        // rotate_half(x) = concat(-x[rd/2:rd], x[:rd/2]) on the rd rotating dimensions as x @ R with a signed
        // permutation matrix: one MatMul instead of Split/Neg/Concat, and exact (each output is one input times +-1 plus
        // zeros). Dimensions past rd (partial rotary) map to zero here and get cos 1 / sin 0 below, so they pass through.
        int rd = config.RotaryDim;
        var rotation = new float[hd * hd];
        for (int j = 0; j < rd / 2; j++)
        {
            rotation[(j + rd / 2) * hd + j] = -1f;
            rotation[j * hd + j + rd / 2] = 1f;
        }
        var rotationName = g.FloatTensor("rope.rotate_half", rotation, hd, hd);

        // Embedding lookup.
        var embed = W("model.embed_tokens.weight", v, d);
        var embedName = g.FloatTensor(embed.Name, embed.Data, v, d);
        var x = g.Node("Gather", "embed", [embedName, "input_ids"], Int("axis", 0));

        // Rotary embeddings from position_ids: angles = position * inv_freq, computed in float64 (as the training model
        // does) so that long positions lose no precision. The frequencies are laid out per head dimension (rotate_half
        // layout: the rd/2 frequencies twice, then zeros for the dimensions that do not rotate).
        var invFreq = config.RopeInverseFrequencies();
        var invFreqPerDim = invFreq.Concat(invFreq).Concat(new double[hd - rd]).ToArray();
        var invFreqName = g.DoubleTensor("rope.inv_freq", invFreqPerDim, hd);
        var pos = g.Node("Cast", "rope/pos_double", ["position_ids"], Int("to", OnnxType.Double));
        var pos3 = g.Node("Unsqueeze", "rope/pos_unsqueeze", [pos, g.Int64Tensor("axes_last", -1)]);
        var angles = g.Node("Mul", "rope/angles", [pos3, invFreqName]); // [B, T, hd]
        var cosD = g.Node("Cast", "rope/cos_float", [g.Node("Cos", "rope/cos", [angles])], Int("to", OnnxType.Float));
        var sinD = g.Node("Cast", "rope/sin_float", [g.Node("Sin", "rope/sin", [angles])], Int("to", OnnxType.Float));
        var cos = g.Node("Unsqueeze", "rope/cos_unsqueeze", [cosD, axis2]); // [B, T, 1, hd]
        var sin = g.Node("Unsqueeze", "rope/sin_unsqueeze", [sinD, axis2]);

        // Attention mask: causal by index (the new tokens are the last T of the S total positions) and the caller's
        // attention_mask (left padding), as one boolean [B, 1, rep*T, S] shared by all layers (rows ordered like the
        // grouped queries: rep blocks of the T new positions).
        var t = g.Node("Gather", "mask/T", [g.Node("Shape", "mask/ids_shape", ["input_ids"]), one], Int("axis", 0));
        var s = g.Node("Gather", "mask/S", [g.Node("Shape", "mask/am_shape", ["attention_mask"]), one], Int("axis", 0));
        var past = g.Node("Sub", "mask/past", [s, t]);
        var qIdx = g.Node("Range", "mask/q_idx", [past, s, one]);
        var kIdx = g.Node("Range", "mask/k_idx", [zero, s, one]);
        var qCol = g.Node("Unsqueeze", "mask/q_col", [qIdx, axis1]);
        var causal = g.Node("LessOrEqual", "mask/causal", [kIdx, qCol]); // [T, S]
        if (config.SlidingWindow is int window)
        {
            // Sliding window (Mistral): new position q sees key k only when q - window < k, in prefill and with a cache alike.
            var windowStart = g.Node("Sub", "mask/window_start", [qCol, g.Int64Scalar("sliding_window", window)]);
            causal = g.Node("And", "mask/causal_windowed", [causal, g.Node("Greater", "mask/in_window", [kIdx, windowStart])]);
        }
        var am = g.Node("Unsqueeze", "mask/am_4d", [g.Node("Cast", "mask/am_bool", ["attention_mask"], Int("to", OnnxType.Bool)), axes12]); // [B,1,1,S]
        var allowed = g.Node("And", "mask/allowed", [causal, am]); // [B, 1, T, S]
        if (rep > 1) allowed = g.Node("Tile", "mask/allowed_grouped", [allowed, g.Int64Tensor("mask_repeats", 1, 1, rep, 1)]); // [B, 1, rep*T, S]

        string Norm(string input, string weightPrefix, string prefix)
        {
            var weightName = weightPrefix + ".weight";
            var w = W(weightName, d);
            var wName = g.FloatTensor(weightName, w.Data, d);
            if (config.Norm == NormKind.LayerNorm)
            {
                var b = W(weightPrefix + ".bias", d);
                var bName = g.FloatTensor(b.Name, b.Data, d);
                return g.Node("LayerNormalization", prefix + "/layer_norm", [input, wName, bName], Int("axis", -1), Float("epsilon", (float)config.RmsNormEps));
            }
            // Pow/ReduceMean/Add/Sqrt/Div/Mul: the standard-operator RMSNorm that ONNX Runtime also fuses into its kernel.
            var sq = g.Node("Pow", prefix + "/pow", [input, two]);
            var mean = g.Node("ReduceMean", prefix + "/mean", [sq], Ints("axes", -1), Int("keepdims", 1));
            var std = g.Node("Sqrt", prefix + "/sqrt", [g.Node("Add", prefix + "/add_eps", [mean, eps])]);
            return g.Node("Mul", prefix + "/scale", [g.Node("Div", prefix + "/div", [input, std]), wName]);
        }

        // Quantised linear layer: MatMulNBits takes the weight in Hugging Face's own [out, in] layout (N rows of K).
        string QuantizedMatMul(string input, string name, string nodeName, float[] rowsByIn, int outDim, int inDim, bool namedOutput = false)
        {
            var q = BlockQuantizer.Quantize(rowsByIn, outDim, inDim, quantization.Precision.Bits(), quantization.BlockSize);
            var data = g.Uint8Tensor(name + ".weight.quantized", q.Data, outDim, q.BlocksPerRow, q.BlobSize);
            var scales = g.FloatTensor(name + ".weight.scales", q.Scales, outDim, q.BlocksPerRow);
            var zeroPoints = g.Uint8Tensor(name + ".weight.zero_points", q.ZeroPoints, outDim, q.ZeroPointBytesPerRow);
            return g.MicrosoftNode("MatMulNBits", nodeName, [input, data, scales, zeroPoints], namedOutput,
                Int("K", inDim), Int("N", outDim), Int("bits", q.Bits), Int("block_size", q.BlockSize), Int("accuracy_level", quantization.AccuracyLevel));
        }

        // Linear layer as MatMul against the transposed weight(s), side by side, plus their biases when the config has them.
        string Linear(string input, string name, string nodeName, string[] parts, int inDim, bool bias)
        {
            var ws = parts.Select(part => W(part + ".weight", -1, inDim)).ToList();
            int outDim = ws.Sum(t => (int)t.Shape[0]);
            var y = quantization.IsQuantized
                ? QuantizedMatMul(input, name, nodeName, ws.SelectMany(t => t.Data).ToArray(), outDim, inDim)
                : g.Node("MatMul", nodeName, [input, g.FloatTensor(name + ".weight.transposed", TransposeConcat(ws, inDim), inDim, outDim)]);
            if (!bias) return y;
            var b = parts.SelectMany(part => W(part + ".bias", ws[Array.IndexOf(parts, part)].Shape[0]).Data).ToArray();
            return g.Node("Add", nodeName + "_bias", [y, g.FloatTensor(name + ".bias", b, outDim)]);
        }

        string Activation(string input, string prefix)
        {
            if (config.Activation != "gelu_new") return g.Node("Mul", prefix + "/silu", [input, g.Node("Sigmoid", prefix + "/sigmoid", [input])]);
            // gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), the same formula as the TorchSharp model.
            var cube = g.Node("Mul", prefix + "/cube", [input, g.Node("Mul", prefix + "/square", [input, input])]);
            var inner = g.Node("Add", prefix + "/inner", [input, g.Node("Mul", prefix + "/cubic_term", [cube, g.FloatScalar("gelu_coefficient", 0.044715f)])]);
            var tanh = g.Node("Tanh", prefix + "/tanh", [g.Node("Mul", prefix + "/scaled", [inner, g.FloatScalar("gelu_scale", (float)Math.Sqrt(2.0 / Math.PI))])]);
            return g.Node("Mul", prefix + "/gelu", [g.Node("Mul", prefix + "/half_x", [input, half]), g.Node("Add", prefix + "/one_plus", [tanh, oneF])]);
        }

        for (int i = 0; i < config.NumLayers; i++)
        {
            var p = $"model.layers.{i}";
            var hn = Norm(x, $"{p}.input_layernorm", $"layer{i}/input_norm");

            // One MatMul for q, k and v (weights concatenated and transposed to [in, out]); rotary embeddings applied to
            // q and k together while heads are still the third axis ([B, T, heads, hd]).
            W($"{p}.self_attn.q_proj.weight", h * hd, d);
            W($"{p}.self_attn.k_proj.weight", kv * hd, d);
            W($"{p}.self_attn.v_proj.weight", kv * hd, d);
            var qkvFlat = Linear(hn, $"{p}.self_attn.qkv_proj", $"layer{i}/qkv", [$"{p}.self_attn.q_proj", $"{p}.self_attn.k_proj", $"{p}.self_attn.v_proj"], d, config.QkvBias);
            var qkv = g.Node("Reshape", $"layer{i}/qkv_heads", [qkvFlat, qkvShape]);
            var qkAndV = g.NodeMulti("Split", $"layer{i}/qk_v_split", [qkv, qkvSplit], 2, Int("axis", 2));
            var rotated = g.Node("MatMul", $"layer{i}/rotate_half", [qkAndV[0], rotationName]);
            var qkRope = g.Node("Add", $"layer{i}/rope", [g.Node("Mul", $"layer{i}/mul_cos", [qkAndV[0], cos]), g.Node("Mul", $"layer{i}/mul_sin", [rotated, sin])]);
            var qk = g.NodeMulti("Split", $"layer{i}/q_k_split", [qkRope, qkSplit], 2, Int("axis", 2));
            var q = g.Node("Transpose", $"layer{i}/q_t", [qk[0]], Ints("perm", 0, 2, 1, 3));          // [B, H, T, hd]
            var k = g.Node("Transpose", $"layer{i}/k_t", [qk[1]], Ints("perm", 0, 2, 1, 3));          // [B, KV, T, hd]
            var vv = g.Node("Transpose", $"layer{i}/v_t", [qkAndV[1]], Ints("perm", 0, 2, 1, 3));     // [B, KV, T, hd]

            var presentK = g.NodeNamed("Concat", $"present.{i}.key", [$"past_key_values.{i}.key", k], Int("axis", 2));
            var presentV = g.NodeNamed("Concat", $"present.{i}.value", [$"past_key_values.{i}.value", vv], Int("axis", 2));

            // Grouped-query attention without repeating K/V: the rep query heads of each kv head become rep*T rows of one
            // matrix [B, KV, rep*T, hd] against that head's K/V (query head j uses kv head j / rep, as HF's repeat_kv).
            var qGrouped = g.Node("Reshape", $"layer{i}/q_grouped", [g.Node("Mul", $"layer{i}/q_scaled", [q, scale]), qGroupShape]);
            var kT = g.Node("Transpose", $"layer{i}/k_transposed", [presentK], Ints("perm", 0, 1, 3, 2));
            var scores = g.Node("MatMul", $"layer{i}/scores", [qGrouped, kT]); // [B, KV, rep*T, S]
            var masked = g.Node("Where", $"layer{i}/masked_scores", [allowed, scores, maskedValue]);
            var probs = g.Node("Softmax", $"layer{i}/softmax", [masked], Int("axis", -1));
            var ctx = g.Node("MatMul", $"layer{i}/ctx", [probs, presentV]); // [B, KV, rep*T, hd]
            var ctx4 = g.Node("Reshape", $"layer{i}/ctx_4d", [ctx, ctxShape4]);
            var ctxFlat = g.Node("Reshape", $"layer{i}/ctx_flat", [g.Node("Transpose", $"layer{i}/ctx_t", [ctx4], Ints("perm", 0, 2, 1, 3)), flatShape]);
            W($"{p}.self_attn.o_proj.weight", d, h * hd);
            var attnOut = Linear(ctxFlat, $"{p}.self_attn.o_proj", $"layer{i}/o_proj", [$"{p}.self_attn.o_proj"], h * hd, config.OutputProjectionBias);

            // MLP: SwiGLU with gate and up in one MatMul, or (Phi-2) a plain two-layer MLP. A parallel block feeds it the
            // same normalised input as attention and adds both to the residual at once.
            string mlpInput;
            if (config.ParallelBlock) mlpInput = hn;
            else
            {
                x = g.Node("Add", $"layer{i}/attn_residual", [x, attnOut]);
                mlpInput = Norm(x, $"{p}.post_attention_layernorm", $"layer{i}/post_norm");
            }
            string act;
            if (config.GatedMlp)
            {
                W($"{p}.mlp.gate_proj.weight", ff, d);
                W($"{p}.mlp.up_proj.weight", ff, d);
                var gateUp = Linear(mlpInput, $"{p}.mlp.gate_up_proj", $"layer{i}/gate_up", [$"{p}.mlp.gate_proj", $"{p}.mlp.up_proj"], d, config.MlpBias);
                var gu = g.NodeMulti("Split", $"layer{i}/gate_up_split", [gateUp, mlpSplit], 2, Int("axis", -1));
                act = g.Node("Mul", $"layer{i}/swiglu", [Activation(gu[0], $"layer{i}"), gu[1]]);
            }
            else
            {
                W($"{p}.mlp.up_proj.weight", ff, d);
                act = Activation(Linear(mlpInput, $"{p}.mlp.up_proj", $"layer{i}/up", [$"{p}.mlp.up_proj"], d, config.MlpBias), $"layer{i}");
            }
            W($"{p}.mlp.down_proj.weight", d, ff);
            var mlpOut = Linear(act, $"{p}.mlp.down_proj", $"layer{i}/down_proj", [$"{p}.mlp.down_proj"], ff, config.MlpBias);
            x = config.ParallelBlock
                ? g.Node("Add", $"layer{i}/parallel_residual", [g.Node("Add", $"layer{i}/attn_residual", [x, attnOut]), mlpOut])
                : g.Node("Add", $"layer{i}/mlp_residual", [x, mlpOut]);
        }

        var final = Norm(x, "model.norm", "final_norm");
        bool tied = config.TieWordEmbeddings || !weights.ContainsKey("lm_head.weight");
        if (tied && !config.TieWordEmbeddings)
            throw new InvalidModelFileException("The weights file has no 'lm_head.weight' and config.json does not tie the embeddings (tie_word_embeddings); the model is incomplete.");
        string logits;
        if (quantization.IsQuantized && quantization.QuantizeLmHead)
        {
            // Tied or not, the projection is a [vocab, hidden] matrix, MatMulNBits' layout; a tied model then stores the
            // embedding twice (fp32 for the lookup, quantised for the projection), which the smaller projection outweighs in speed.
            var lmWeight = tied ? embed : W("lm_head.weight", v, d);
            logits = QuantizedMatMul(final, "lm_head", config.LmHeadBias ? "lm_head" : "logits", lmWeight.Data, v, d, namedOutput: !config.LmHeadBias);
        }
        else
        {
            string lmHead;
            if (tied)
                // Tied: transpose the one embedding initializer in the graph (constant-folded by the runtime), so the file holds it once.
                lmHead = g.Node("Transpose", "lm_head/tied_transpose", [embedName], Ints("perm", 1, 0));
            else
            {
                var lm = W("lm_head.weight", v, d);
                lmHead = g.FloatTensor("lm_head.weight.transposed", TransposeConcat([lm], d), d, v);
            }
            logits = config.LmHeadBias ? g.Node("MatMul", "lm_head", [final, lmHead]) : g.NodeNamed("MatMul", "logits", [final, lmHead]);
        }
        if (config.LmHeadBias)
        {
            var lmBias = W("lm_head.bias", v);
            g.NodeNamed("Add", "logits", [logits, g.FloatTensor("lm_head.bias", lmBias.Data, v)]);
        }

        var model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "SLM Studio",
            ProducerVersion = producerVersion,
            Domain = "slmstudio",
            ModelVersion = 1,
            DocString = $"{config.ArchitectureName} causal language model (decoder with KV cache) exported by SLM Studio.",
            Graph = g.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        if (g.UsesMicrosoftDomain) model.OpsetImport.Add(new OperatorSetIdProto { Domain = OnnxGraphBuilder.MicrosoftDomain, Version = 1 });
        return model;
    }

    /// <summary>Transposes row-major [out_k, in] matrices to [in, sum(out_k)] (MatMul's layout), side by side.</summary>
    private static float[] TransposeConcat(IReadOnlyList<NamedTensor> mats, int inDim)
    {
        var totalOut = mats.Sum(m => (int)m.Shape[0]);
        var result = new float[(long)inDim * totalOut];
        int colOffset = 0;
        foreach (var m in mats)
        {
            int rows = (int)m.Shape[0], offset = colOffset;
            var src = m.Data;
            Parallel.For(0, rows, r =>
            {
                long srcRow = (long)r * inDim;
                int col = offset + r;
                for (int c = 0; c < inDim; c++) result[(long)c * totalOut + col] = src[srcRow + c];
            });
            colOffset += rows;
        }
        return result;
    }
}
