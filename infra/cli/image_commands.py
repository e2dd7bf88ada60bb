"""AMI commands that are not plain targeted applies: packer:clean, packer:delete."""
