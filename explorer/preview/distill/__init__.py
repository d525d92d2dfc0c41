"""The distilled preview decoder: a diffusers `AutoencoderTiny` student of a diffusers AutoencoderKL teacher, trained
as TAESD is (student.py: its size; crops.py: latent crops, targets and losses; trainer.py: the loop, checkpoints and
resume; scores.py: PSNR on full frames and onnxruntime's time per frame; folder.py: the folder, cache and lookup;
job.py: `distill_teacher`, end to end). The page calls `folder.find_student(teacher)`."""
