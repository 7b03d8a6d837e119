namespace SlmStudio.Core.Export.Quantization;

/// <summary>
/// One weight matrix in the layout of ONNX Runtime's <c>com.microsoft.MatMulNBits</c> operator, which computes
/// <c>Y = A · dequant(B)ᵀ</c> for a weight B of N rows (output features) by K columns (input features):
/// <list type="bullet">
/// <item><see cref="Data"/>: uint8 [N, BlocksPerRow, BlobSize]; each row is cut into blocks of <see cref="BlockSize"/>
/// weights along K (the last block padded with zero codes), and a block's codes are packed low bits first
/// (4 bits: element 2j in the low nibble of byte j, element 2j+1 in the high nibble; 8 bits: one byte each).</item>
/// <item><see cref="Scales"/>: float [N, BlocksPerRow].</item>
/// <item><see cref="ZeroPoints"/>: uint8 [N, ceil(BlocksPerRow · bits / 8)], packed like the codes, each row starting on
/// a whole byte.</item>
/// </list>
/// A weight is <c>(code − zero point) · scale</c>.
/// </summary>
public sealed record QuantizedMatrix(int Rows, int Columns, int Bits, int BlockSize, byte[] Data, float[] Scales, byte[] ZeroPoints)
{
    public int BlocksPerRow => (Columns + BlockSize - 1) / BlockSize;
    public int BlobSize => BlockSize * Bits / 8;
    public int ZeroPointBytesPerRow => (BlocksPerRow * Bits + 7) / 8;

    /// <summary>The integer code of weight (row, column).</summary>
    public int Code(int row, int column)
    {
        int block = column / BlockSize, inBlock = column % BlockSize;
        long offset = ((long)row * BlocksPerRow + block) * BlobSize;
        return Bits == 8 ? Data[offset + inBlock] : (Data[offset + inBlock / 2] >> (inBlock % 2 * 4)) & 0xF;
    }

    public int ZeroPoint(int row, int block) =>
        Bits == 8 ? ZeroPoints[row * ZeroPointBytesPerRow + block] : (ZeroPoints[row * ZeroPointBytesPerRow + block / 2] >> (block % 2 * 4)) & 0xF;

    /// <summary>The weights as the operator reconstructs them, row-major [Rows, Columns].</summary>
    public float[] Dequantize()
    {
        var result = new float[(long)Rows * Columns];
        for (int r = 0; r < Rows; r++)
            for (int c = 0; c < Columns; c++)
            {
                int block = c / BlockSize;
                result[(long)r * Columns + c] = (Code(r, c) - ZeroPoint(r, block)) * Scales[r * BlocksPerRow + block];
            }
        return result;
    }

    public long StorageBytes => Data.LongLength + Scales.LongLength * sizeof(float) + ZeroPoints.LongLength;
}

/// <summary>
/// Asymmetric block-wise round-to-nearest quantisation of a row-major float matrix [rows, columns] (a linear layer's
/// weight in Hugging Face's [out, in] layout) into <see cref="QuantizedMatrix"/>. Each block's range is widened to
/// include 0, so zero weights (and the padding) stay exactly zero: scale = (max − min) / (2^bits − 1), zero point =
/// round(−min / scale), with the range shrunk by the factor (of a few) that minimises the block's squared error.
/// </summary>
public static class BlockQuantizer
{
    /// <summary>
    /// 32 weights per scale: the block size onnxruntime-genai's model builder uses for int4 on CPU; smaller blocks
    /// follow outliers more closely but spend more bytes on scales, and MatMulNBits' fast CPU kernels are tuned for 32.
    /// </summary>
    public const int DefaultBlockSize = 32;

    /// <summary>
    /// Range shrink factors tried per block. Rounding to the full min..max range wastes levels on one outlier; clipping it a
    /// little gives the other weights finer steps. The gain is small on the models we measured (stories260K int4: loss
    /// increase 10.7% -> 10.6%), but it never makes a block worse and costs a fraction of a second per export.
    /// </summary>
    private static readonly float[] ShrinkFactors = [1f, 0.95f, 0.9f, 0.85f, 0.8f, 0.75f, 0.7f, 0.65f, 0.6f];

    /// <summary>The block's scale and zero point: of the shrunk ranges, the one whose round trip has the least squared error.</summary>
    private static (float Scale, int ZeroPoint) ChooseRange(ReadOnlySpan<float> block, int maxCode)
    {
        float min = 0, max = 0;
        foreach (var w in block)
        {
            if (!float.IsFinite(w)) throw new EngineException($"The weights hold a value that is not a finite number ({w}); the model is damaged and cannot be quantised.");
            if (w < min) min = w;
            if (w > max) max = w;
        }
        if (max == min) return (1f, (maxCode + 1) / 2); // an all-zero block: any scale reproduces it, 1 keeps the arithmetic finite
        float bestScale = 0, bestError = float.PositiveInfinity;
        int bestZeroPoint = 0;
        foreach (var factor in ShrinkFactors)
        {
            float lo = min * factor, hi = max * factor;
            float scale = (hi - lo) / maxCode;
            int zeroPoint = Math.Clamp((int)MathF.Round(-lo / scale), 0, maxCode);
            float error = 0;
            foreach (var w in block)
            {
                int code = Math.Clamp((int)MathF.Round(w / scale) + zeroPoint, 0, maxCode);
                float diff = (code - zeroPoint) * scale - w;
                error += diff * diff;
            }
            if (error < bestError) (bestError, bestScale, bestZeroPoint) = (error, scale, zeroPoint);
        }
        return (bestScale, bestZeroPoint);
    }

    public static QuantizedMatrix Quantize(ReadOnlySpan<float> weights, int rows, int columns, int bits, int blockSize = DefaultBlockSize)
    {
        if (bits is not (4 or 8)) throw new ArgumentOutOfRangeException(nameof(bits), "Only 4- and 8-bit blocks are written.");
        if (blockSize < 16 || (blockSize & (blockSize - 1)) != 0) throw new ArgumentOutOfRangeException(nameof(blockSize), "The block size must be a power of two, at least 16.");
        if (weights.Length != (long)rows * columns) throw new ArgumentException($"Expected {rows}×{columns} weights, got {weights.Length}.");
        int blocks = (columns + blockSize - 1) / blockSize, blob = blockSize * bits / 8, zpRow = (blocks * bits + 7) / 8;
        int maxCode = (1 << bits) - 1;
        var data = new byte[(long)rows * blocks * blob];
        var scales = new float[rows * blocks];
        var zeroPoints = new byte[rows * zpRow];
        var weightArray = weights.ToArray();
        Parallel.For(0, rows, () => new int[blockSize], (r, _, codes) =>
        {
            var row = weightArray.AsSpan(r * columns, columns);
            for (int b = 0; b < blocks; b++)
            {
                int start = b * blockSize, count = Math.Min(blockSize, columns - start);
                var block = row.Slice(start, count);
                var (scale, zeroPoint) = ChooseRange(block, maxCode);
                Array.Fill(codes, zeroPoint); // padding decodes to exactly zero
                for (int i = 0; i < count; i++) codes[i] = Math.Clamp((int)MathF.Round(block[i] / scale) + zeroPoint, 0, maxCode);
                scales[r * blocks + b] = scale;
                long offset = ((long)r * blocks + b) * blob;
                if (bits == 8)
                {
                    for (int i = 0; i < blockSize; i++) data[offset + i] = (byte)codes[i];
                    zeroPoints[r * zpRow + b] = (byte)zeroPoint;
                }
                else
                {
                    for (int i = 0; i < blockSize; i += 2) data[offset + i / 2] = (byte)(codes[i] | (codes[i + 1] << 4));
                    zeroPoints[r * zpRow + b / 2] |= (byte)(zeroPoint << (b % 2 * 4));
                }
            }
            return codes;
        }, _ => { });
        return new QuantizedMatrix(rows, columns, bits, blockSize, data, scales, zeroPoints);
    }
}
