using SlmStudio.Core.Training;
using static TorchSharp.torch;

namespace SlmStudio.Core.Tests.Training;

public class AdamWTests
{
    [Fact]
    public void A_learning_rate_scale_moves_the_named_parameters_that_many_times_as_far()
    {
        using var plain = zeros(3).requires_grad_();
        using var fast = zeros(3).requires_grad_();
        using var optimizer = new AdamW([("plain", plain), ("fast", fast)], weightDecay: 0, learningRateScale: name => name == "fast" ? 10 : 1);
        using (var loss = (plain * tensor(new[] { 1f, -2f, 3f })).sum() + (fast * tensor(new[] { 1f, -2f, 3f })).sum()) loss.backward();
        optimizer.Update(0.01);
        // Adam's first step is the learning rate against the gradient's sign, whatever the gradient's size.
        Assert.Equal([-0.01f, 0.01f, -0.01f], plain.detach().data<float>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-6);
        Assert.Equal([-0.1f, 0.1f, -0.1f], fast.detach().data<float>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-5);
    }

    [Fact]
    public void Gradients_from_a_bfloat16_copy_update_the_float32_weights_as_their_own_would()
    {
        using var own = tensor(new[] { 1f, 2f, 3f }).requires_grad_();
        using var master = tensor(new[] { 1f, 2f, 3f }).requires_grad_();
        using var copy = master.detach().to(ScalarType.BFloat16).requires_grad_();
        using var ownOptimizer = new AdamW([("w", own)], weightDecay: 0.1);
        using var masterOptimizer = new AdamW([("w", master)], weightDecay: 0.1, gradientsFrom: new Dictionary<string, Tensor> { ["w"] = copy });
        for (int step = 0; step < 3; step++)
        {
            using (var loss = (own * own).sum()) loss.backward();
            using (var loss = (copy * copy).sum()) loss.backward();
            ownOptimizer.Update(0.01);
            masterOptimizer.Update(0.01);
            ownOptimizer.ZeroGrad();
            masterOptimizer.ZeroGrad();
            using (no_grad()) copy.copy_(master);
        }
        Assert.Equal(ScalarType.Float32, master.dtype);
        Assert.Null(master.grad);
        Assert.Equal(own.detach().data<float>().ToArray(), master.detach().data<float>().ToArray(), (a, b) => Math.Abs(a - b) < 1e-4);
        Assert.NotEqual([1f, 2f, 3f], master.detach().data<float>().ToArray());
    }
}
